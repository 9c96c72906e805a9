# The Firezone client as a container: firezoned in the foreground under tini, firezonectl for
# `docker exec`. Built offline from a local Debian base (no registry pull):
#   bun run build                                   # dist/firezoned, dist/firezonectl
#   bun docker/base_image.ts                        # debootstrap minbase + docker import, cached in .cache/docker
#   docker build -t firezone-client .
# Run: see docs/docker.md.
ARG BASE_IMAGE=firezone-base:bookworm

# Build stage: the Debian base with wireguard-go, tini, getent and dash; rootfs.sh copies out only
# the programs and the libraries they link against.
FROM ${BASE_IMAGE} AS rootfs
COPY dist/firezoned dist/firezonectl /usr/local/bin/
COPY docker/entrypoint.sh /usr/local/bin/firezone-entrypoint
COPY docker/healthcheck.sh /usr/local/bin/firezone-healthcheck
COPY docker/rootfs.sh /rootfs.sh
RUN sh /rootfs.sh /rootfs

FROM scratch
COPY --from=rootfs /rootfs/ /
ENV PATH=/usr/local/bin:/usr/bin:/bin

# State (device id) survives container re-creation when /var/lib/firezoned is a volume.
VOLUME ["/var/lib/firezoned"]

# docker stop sends SIGTERM to tini, which passes it to firezoned: it takes the tunnel down, signs
# out of the session, restores /etc/resolv.conf and exits 0 well within the default 10 s.
STOPSIGNAL SIGTERM
# Healthy only while the session is connected (docker/healthcheck.sh). The start period is the grace
# for the first connection; a later drop (portal restart, network change) turns the container
# unhealthy after three failed checks in a row, 30 s.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["/usr/local/bin/firezone-healthcheck"]

# tini as PID 1 reaps what firezoned's children leave and forwards signals; -s keeps it working
# when `docker run --init` puts Docker's own init in front of it.
ENTRYPOINT ["/usr/bin/tini", "-s", "--", "/usr/local/bin/firezone-entrypoint"]
