# The devstack (portal, gateway, HTTP resource) as one image for docker/compose.yaml: a stand-in
# world to try the client against, never shipped. Its build context is dist/devstack/, made by
#   bun docker/devstack_build.ts
# on the local Debian base (bun docker/base_image.ts), which has wireguard-go and nftables for the
# gateway and bash for the `try` service.
ARG BASE_IMAGE=firezone-base:bookworm
FROM ${BASE_IMAGE}
COPY fz-devstack /usr/local/bin/fz-devstack
ENTRYPOINT ["/usr/local/bin/fz-devstack"]
