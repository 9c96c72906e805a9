#!/bin/sh
# Installs everything the build, the tests and the demo need on a fresh Debian machine (as root):
# the Debian packages listed in scripts/packages.txt, then the npm dependencies (Bun among them).
set -eu
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  echo "setup.sh installs Debian packages and must run as root: sudo sh scripts/setup.sh" >&2
  exit 77
fi
missing=""
while read -r pkg; do
  case "$pkg" in ''|'#'*) continue ;; esac
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
done < scripts/packages.txt
if [ -n "$missing" ]; then
  echo "setup: installing Debian packages:$missing"
  apt-get update -qq
  # shellcheck disable=SC2086 # the package list is meant to split into words
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi
# systemd-resolved for the DNS-control tests, unpacked into .cache/ rather than installed: installing
# the package would take over this machine's /etc/resolv.conf.
if [ ! -x /lib/systemd/systemd-resolved ] && [ ! -x .cache/systemd-resolved/lib/systemd/systemd-resolved ]; then
  echo "setup: unpacking systemd-resolved into .cache/systemd-resolved"
  tmp=$(mktemp -d)
  if (cd "$tmp" && apt-get download -qq systemd-resolved >/dev/null 2>&1) ||
    { apt-get update -qq && (cd "$tmp" && apt-get download -qq systemd-resolved >/dev/null); }; then
    mkdir -p .cache/systemd-resolved
    dpkg -x "$tmp"/systemd-resolved_*.deb .cache/systemd-resolved
  else
    echo "setup: could not download systemd-resolved; its DNS tests will be skipped" >&2
  fi
  rm -rf "$tmp"
fi
# npm ci again only when the lock file changed since the last install.
if [ ! -x node_modules/.bin/bun ] || ! cmp -s package-lock.json node_modules/.setup-lock 2>/dev/null; then
  echo "setup: installing npm dependencies"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.setup-lock
fi
