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
for pkg in $(grep -v '^#' scripts/packages.txt); do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
  echo "setup: installing Debian packages:$missing"
  apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
if [ ! -x node_modules/.bin/bun ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm dependencies"
  npm ci --no-audit --no-fund --loglevel=error
fi
