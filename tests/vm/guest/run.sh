#!/bin/sh
# Runs inside the VM as a systemd oneshot unit (fz-vmtest.service), from the host's 9p share at
# /mnt/fz. Writes "ok <name>" / "not ok <name>: <why>" lines to out/results.txt, then "done".
set -u
FZ=/mnt/fz
OUT=$FZ/out
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
: >"$OUT/results.txt"
exec >>"$OUT/guest.log" 2>&1
echo "guest: $(uname -r), $(systemctl --version | head -n 1)"
# The source tree, read-only, for the end-to-end test (runs devstack from source).
mkdir -p /mnt/repo
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,ro fzrepo /mnt/repo || echo "no source tree share"
# shellcheck source=/dev/null
. "$FZ/tests/vm/guest/lib.sh"
# shellcheck source=/dev/null
. "$FZ/tests/vm/guest/tests.sh"
# shellcheck source=/dev/null
. "$FZ/tests/vm/guest/deb.sh"
journalctl -b --no-pager >"$OUT/journal.log" 2>&1
echo "--- finished (t=$(($(date +%s) - T0))s)"
echo "done" >>"$OUT/results.txt"
# The results are on the host already and the disk is a throw-away overlay: skip the clean shutdown
# (tens of seconds under emulation). fz-vmtest.service's ExecStopPost powers off cleanly if this
# script dies before reaching here.
sync
systemctl --force --force poweroff
