# The Firezone client as a container: firezoned in the foreground, firezonectl for `docker exec`.
# Build the programs first (bun run build), then: docker build -t firezone-client .
# Run: see docs/docker.md.
FROM debian:bookworm-slim

# wireguard-go: the userspace WireGuard backend, for hosts without the kernel module.
RUN apt-get update \
 && apt-get install -y --no-install-recommends wireguard-go ca-certificates \
 && rm -rf /var/lib/apt/lists/*

RUN groupadd --system firezone \
 && install -d -m 0700 /etc/firezoned /var/lib/firezoned /var/log/firezoned

COPY dist/firezoned dist/firezonectl /usr/local/bin/
COPY docker/entrypoint.sh /usr/local/bin/firezone-entrypoint

# State (device id) survives container re-creation when /var/lib/firezoned is a volume.
VOLUME ["/var/lib/firezoned"]

STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD ["firezonectl", "status"]

ENTRYPOINT ["/usr/local/bin/firezone-entrypoint"]
