# The VM test cases (sourced by run.sh).
check "the guest runs systemd as pid 1" sh -c '[ "$(cat /proc/1/comm)" = systemd ]'
check "the kernel WireGuard module loads" modprobe wireguard
