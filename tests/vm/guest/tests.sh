# The VM test cases (sourced by run.sh; POSIX sh). Each t_* function fails (non-zero) with a message
# shellcheck shell=sh
# on its last output line; `check` records the result.
DIST=$FZ/dist
INSTALL="sh $FZ/install.sh"
CTL=/usr/local/bin/firezonectl

wait_for() { # SECONDS CMD...: retries CMD every half second
	n=$(($1 * 2))
	shift
	while [ "$n" -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.5
		n=$((n - 1))
	done
	"$@"
}

expect_eq() { # WHAT EXPECTED ACTUAL
	if [ "$2" = "$3" ]; then return 0; fi
	echo "$1: expected '$2', got '$3'"
	return 1
}

main_pid() { systemctl show -p MainPID --value firezoned; }

t_fresh_install() {
	useradd -m -s /bin/sh alice && useradd -m -s /bin/sh bob || return 1
	out=$(SUDO_USER=alice $INSTALL --from-dir "$DIST" 2>&1)
	rc=$?
	echo "$out"
	[ $rc -eq 0 ] || return 1
	echo "$out" | grep -q "added user 'alice' to group 'firezone'. Log out and in again" ||
		{ echo "no log-out-and-in hint for alice"; return 1; }
}

t_active() { expect_eq "systemctl is-active firezoned" active "$(systemctl is-active firezoned)"; }
t_enabled() { expect_eq "systemctl is-enabled firezoned" enabled "$(systemctl is-enabled firezoned)"; }

t_modes() {
	expect_eq /run/firezoned "750 root:firezone directory" "$(stat -c '%a %U:%G %F' /run/firezoned)" &&
		expect_eq /run/firezoned/ipc.sock "660 root:firezone socket" "$(stat -c '%a %U:%G %F' /run/firezoned/ipc.sock)" &&
		expect_eq /etc/firezoned "700 root:root" "$(stat -c '%a %U:%G' /etc/firezoned)" &&
		expect_eq /var/lib/firezoned "700 root" "$(stat -c '%a %U' /var/lib/firezoned)" &&
		expect_eq /var/log/firezoned "700 root" "$(stat -c '%a %U' /var/log/firezoned)" &&
		expect_eq "$CTL" "755 root:root" "$(stat -c '%a %U:%G' $CTL)"
}

t_desktop_files() {
	if [ ! -f "$DIST/firezone-gui" ]; then
		echo "no firezone-gui in this build: nothing to check"
		return 0
	fi
	link=/usr/local/share/applications/dev.firezone.client.desktop
	grep -qx "MimeType=x-scheme-handler/firezone-fd0020211111;" "$link" || { echo "$link: no firezone scheme handler"; return 1; }
	# Links arrive over D-Bus, never in argv: no %u field code in the handler.
	grep -qx "DBusActivatable=true" "$link" || { echo "$link: not DBusActivatable"; return 1; }
	if grep -q "%[uUfF]" "$link"; then echo "$link: passes the link in argv"; return 1; fi
	grep -qx "Name=dev.firezone.client" /usr/local/share/dbus-1/services/dev.firezone.client.service || { echo "no D-Bus service file"; return 1; }
	grep -qx "Exec=firezone-gui" /etc/xdg/autostart/firezone-gui.desktop || { echo "no GUI autostart entry"; return 1; }
	[ -x /usr/local/bin/firezone-gui ] || { echo "firezone-gui not installed"; return 1; }
}

t_only_net_admin() {
	pid=$(main_pid)
	# CAP_NET_ADMIN is bit 12, CAP_NET_BIND_SERVICE (the DNS stub's port 53) bit 10.
	expect_eq "CapEff of firezoned" 0000000000001400 "$(awk '/^CapEff/ {print $2}' "/proc/$pid/status")" &&
		expect_eq "NoNewPrivs of firezoned" 1 "$(awk '/^NoNewPrivs/ {print $2}' "/proc/$pid/status")" &&
		expect_eq "uid of firezoned" 0 "$(awk '/^Uid/ {print $2}' "/proc/$pid/status")"
}

t_member_status() {
	id alice
	runuser -l alice -c "$CTL status"
}

t_member_status_su() {
	su -l alice -c "$CTL status --json"
}

json_field() { # NAME: a string field of the JSON on stdin
	tr -d "\n" | sed -n "s/.*\"$1\": *\"\([^\"]*\)\".*/\1/p"
}

t_not_configured() {
	json=$(runuser -l alice -c "$CTL status --json") || return 1
	echo "$json"
	expect_eq "state without a portal URL" not_configured "$(echo "$json" | json_field state)" || return 1
	echo "$json" | grep -q "set portal_url in /etc/firezoned/firezoned.conf" || { echo "the status does not name the file and key"; return 1; }
	echo "$json" | grep -q "install.sh --api-url" || { echo "the status does not name install.sh --api-url"; return 1; }
	out=$(echo "some-token-0123" | runuser -l alice -c "$CTL sign-in --token-stdin" 2>&1)
	rc=$?
	echo "$out"
	expect_eq "exit code of sign-in while not configured" 78 "$rc"
}

t_api_url() {
	printf '# kept by install.sh\nlog_level = debug\n' >/etc/firezoned/firezoned.conf
	chmod 0644 /etc/firezoned/firezoned.conf
	SUDO_USER=alice $INSTALL --from-dir "$DIST" --api-url wss://portal.example.test || return 1
	cat /etc/firezoned/firezoned.conf
	expect_eq "firezoned.conf owner and mode" "644 root:root" "$(stat -c '%a %U:%G' /etc/firezoned/firezoned.conf)" || return 1
	grep -qx "log_level = debug" /etc/firezoned/firezoned.conf || { echo "install.sh dropped the log_level line"; return 1; }
	grep -qx "portal_url = wss://portal.example.test" /etc/firezoned/firezoned.conf || { echo "no portal_url line"; return 1; }
	json=$(runuser -l alice -c "$CTL status --json") || return 1
	echo "$json"
	expect_eq "state after install.sh --api-url" signed_out "$(echo "$json" | json_field state)" &&
		expect_eq "portalUrl after install.sh --api-url" https://portal.example.test "$(echo "$json" | json_field portalUrl)" || return 1
	out=$($INSTALL --from-dir "$DIST" --api-url ws://10.9.9.9:8080 2>&1)
	rc=$?
	echo "$out"
	[ $rc -ne 0 ] || { echo "install.sh accepted a plaintext portal without --allow-insecure-portal"; return 1; }
	grep -qx "portal_url = wss://portal.example.test" /etc/firezoned/firezoned.conf || { echo "a refused --api-url changed the file"; return 1; }
}

t_doctor_under_unit() {
	out=$(runuser -l alice -c "$CTL doctor" 2>&1)
	rc=$?
	echo "$out"
	# The portal (portal.example.test) cannot be reached from the guest: doctor must say so and exit 1.
	expect_eq "doctor's exit code with an unreachable portal" 1 "$rc" || return 1
	for line in "[ OK ] firezoned service (systemd): active" "[ OK ] Socket /run/firezoned/ipc.sock: root:" \
		"[ OK ] Your access to firezoned" "[ OK ] firezoned answers" "[ OK ] TUN device /dev/net/tun" \
		"[ OK ] WireGuard" "[ OK ] Reverse-path filter" "[FAIL] Portal"; do
		echo "$out" | grep -qF "$line" || { echo "doctor under the unit: no line '$line'"; return 1; }
	done
	logs=$(runuser -l alice -c "$CTL logs") || return 1
	echo "$logs" | grep -q "listening" || { echo "alice cannot read firezoned's log through firezonectl logs"; return 1; }
	if runuser -l alice -c "cat /var/log/firezoned/firezoned.log" >/dev/null 2>&1; then
		echo "alice can read /var/log/firezoned/firezoned.log itself"
		return 1
	fi
}

t_outsider_refused() {
	out=$(runuser -l bob -c "$CTL status" 2>&1)
	rc=$?
	echo "$out"
	expect_eq "exit code for bob" 77 "$rc" || return 1
	echo "$out" | grep -q "usermod -aG firezone" || { echo "the message does not name the fix"; return 1; }
}

t_root_version() { "$CTL" version --json; }

t_kill9_restart() {
	old=$(main_pid)
	# What a crashed daemon leaves: its WireGuard interface (and the routes through it), its policy
	# rules and routes in its table; and a rule of someone else's at the same priority.
	ip link add tun-firezone type wireguard || return 1
	for family in -4 -6; do
		ip "$family" rule add not fwmark 0xfd002021 table 0x2021fd00 priority 6410 protocol 122 || return 1
		ip "$family" rule add table 77 priority 6410 || return 1
	done
	ip route add blackhole 10.9.0.0/16 table 0x2021fd00 proto 122 || return 1
	kill -9 "$old"
	wait_for 30 sh -c "[ \"\$(systemctl show -p MainPID --value firezoned)\" != $old ] && [ \"\$(systemctl show -p MainPID --value firezoned)\" != 0 ] && systemctl is-active --quiet firezoned" ||
		{
			journalctl -u firezoned --no-pager | tail -n 20
			echo "firezoned was not restarted"
			return 1
		}
	echo "restarted: pid $old -> $(main_pid), NRestarts=$(systemctl show -p NRestarts --value firezoned)"
	expect_eq "socket after restart" "660 root:firezone socket" "$(stat -c '%a %U:%G %F' /run/firezoned/ipc.sock)" || return 1
	runuser -l alice -c "$CTL status" || return 1
	if ip link show tun-firezone 2>/dev/null; then
		echo "the new firezoned left its predecessor's tun-firezone in place"
		return 1
	fi
	for family in -4 -6; do
		left=$(ip "$family" rule show table 0x2021fd00)
		[ -z "$left" ] || { echo "the new firezoned left its predecessor's rule: $left"; return 1; }
		[ -n "$(ip "$family" rule show table 77)" ] || { echo "the new firezoned removed another's rule"; return 1; }
		ip "$family" rule del table 77 priority 6410
	done
	[ -z "$(ip route show table 0x2021fd00 2>/dev/null)" ] || { echo "routes left in table 0x2021fd00"; return 1; }
	journalctl -u firezoned --no-pager | grep "cleaned up after a previous run"
}

t_service_token() {
	(umask 077 && printf "vm-test-service-token-0123\n" >/etc/firezoned/token) || return 1
	systemctl restart firezoned || return 1
	json=$(runuser -l alice -c "$CTL status --json") || return 1
	echo "$json"
	expect_eq "mode with /etc/firezoned/token" service "$(echo "$json" | tr -d "\n " | sed -n "s/.*\"mode\":\"\([a-z]*\)\".*/\1/p")" || return 1
	out=$(runuser -l alice -c "$CTL sign-out" 2>&1)
	rc=$?
	echo "$out"
	expect_eq "exit code of sign-out by a member in service mode" 77 "$rc" || return 1
	grep alice /var/log/firezoned/audit.log || { echo "no audit line for alice in /var/log/firezoned/audit.log"; return 1; }
	if journalctl -u firezoned --no-pager | grep -q vm-test-service-token; then
		echo "the token appears in the journal"
		return 1
	fi
	rm -f /etc/firezoned/token
	systemctl restart firezoned
}

t_identity_under_unit() {
	# Under the shipped unit (ProtectProc=invisible, only CAP_NET_ADMIN): names come from the group
	# database through getent inside the sandbox, and the exe of another uid's process is not visible.
	uid=$(id -u alice)
	runuser -l alice -c "$CTL sign-out" >/dev/null || { echo "alice could not sign out"; return 1; }
	line=$(grep 'method="sign_out"' /var/log/firezoned/audit.log | grep 'user="alice"' | tail -n 1)
	echo "$line"
	echo "$line" | grep -q "uid=$uid user=\"alice\" pid=[0-9][0-9]* exe=\"?\" method=\"sign_out\" result=\"ok\"" ||
		{ echo "alice's audit line is not: uid=$uid user=\"alice\" pid=N exe=\"?\" method=\"sign_out\" result=\"ok\""; return 1; }
	# Root's sudo-style process holds capabilities the daemon lacks, so it is not visible either.
	$CTL sign-out >/dev/null || return 1
	line=$(grep 'method="sign_out"' /var/log/firezoned/audit.log | grep 'user="root"' | tail -n 1)
	echo "root: $line"
	echo "$line" | grep -q 'uid=0 user="root" pid=[0-9][0-9]* exe="?"' || { echo "root's audit line is not uid=0 user=\"root\" pid=N exe=\"?\""; return 1; }
	# Removed from the group database, a process that still holds the group may no longer change
	# anything once the daemon's 10 s cache of alice's groups has aged out.
	gpasswd -d alice firezone >/dev/null || return 1
	sleep 11
	out=$(setpriv --reuid=alice --regid=alice --groups=firezone $CTL sign-out 2>&1)
	rc=$?
	gpasswd -a alice firezone >/dev/null
	echo "$out"
	expect_eq "exit code of sign-out by a process of alice after gpasswd -d alice firezone" 77 "$rc" || return 1
	echo "$out" | grep -q "User 'alice' is no longer in group 'firezone'" || { echo "no removal diagnosis"; return 1; }
}

t_no_core_dumps() {
	pid=$(main_pid)
	expect_eq "core file limit of firezoned (LimitCORE=0)" "0 0" "$(awk '/^Max core file size/ {print $5, $6}' "/proc/$pid/limits")" || return 1
	# Group=firezone makes the daemon's egid firezone's; /proc/<pid> of a dumpable process belongs to
	# its euid:egid, of a non-dumpable one (PR_SET_DUMPABLE 0) to root:root.
	gid=$(getent group firezone | cut -d: -f3)
	expect_eq "effective gid of firezoned" "$gid" "$(awk '/^Gid/ {print $3}' "/proc/$pid/status")" || return 1
	expect_eq "owner of /proc/<firezoned>/environ (not dumpable)" "0:0" "$(stat -c '%u:%g' "/proc/$pid/environ")"
}

t_token_refused_still_serves() {
	# A token file another user could read: firezoned stays up, in service mode, saying why.
	(umask 022 && printf "vm-test-loose-token\n" >/etc/firezoned/token) || return 1
	chmod 644 /etc/firezoned/token
	systemctl restart firezoned || { rm -f /etc/firezoned/token; return 1; }
	json=$(runuser -l alice -c "$CTL status --json")
	rc=$?
	rm -f /etc/firezoned/token
	echo "$json"
	[ $rc -eq 0 ] || { echo "status failed with $rc"; systemctl restart firezoned; return 1; }
	echo "$json" | grep -q '"mode": *"service"' || { echo "not service mode"; systemctl restart firezoned; return 1; }
	echo "$json" | grep -q "sudo chmod 600 /etc/firezoned/token" || { echo "no fix in lastError"; systemctl restart firezoned; return 1; }
	systemctl show -p StatusText --value firezoned | grep -q "refusing the service token" ||
		{ echo "systemctl status does not say why"; systemctl restart firezoned; return 1; }
	if journalctl -u firezoned --no-pager | grep -q vm-test-loose-token; then
		echo "the token appears in the journal"
		return 1
	fi
	systemctl restart firezoned
}

t_encrypted_credential() {
	# The token encrypted at rest with systemd-creds (host key: the VM has no TPM), given to the unit
	# by LoadCredentialEncrypted=; no /etc/firezoned/token. No portal here (the end-to-end run signs in
	# with one): firezoned must find the token, so it is in service mode without a refusal.
	token=vm-test-credential-token-4567
	printf '%s\n' "$token" | systemd-creds encrypt --with-key=host --name=firezone-token - /etc/firezoned/token.cred || return 1
	if grep -q "$token" /etc/firezoned/token.cred; then echo "the credential on disk holds the token in plaintext"; return 1; fi
	mkdir -p /etc/systemd/system/firezoned.service.d
	printf '[Service]\nLoadCredentialEncrypted=firezone-token:/etc/firezoned/token.cred\n' >/etc/systemd/system/firezoned.service.d/vm-cred.conf
	systemctl daemon-reload && systemctl restart firezoned
	rc=$?
	json=$(runuser -l alice -c "$CTL status --json")
	log=$(journalctl -u firezoned --no-pager -n 30)
	rm -f /etc/systemd/system/firezoned.service.d/vm-cred.conf /etc/firezoned/token.cred
	systemctl daemon-reload
	systemctl restart firezoned
	[ $rc -eq 0 ] || { echo "firezoned did not restart with the credential"; return 1; }
	echo "$json"
	echo "$json" | grep -q '"mode": *"service"' || { echo "not in service mode with the credential"; return 1; }
	if echo "$json" | grep -q "refusing the service token"; then echo "the credential was refused"; return 1; fi
	echo "$log" | grep "listening" | tail -n 1
	echo "$log" | grep "listening" | tail -n 1 | grep -q "token=credential" || { echo "firezoned did not say it used the credential"; return 1; }
	if echo "$log" | grep -q "$token"; then echo "the token appears in the journal"; return 1; fi
}

t_security_score() {
	systemd-analyze security firezoned >"$OUT/security.txt" 2>&1
	line=$(grep 'Overall exposure level' "$OUT/security.txt")
	echo "$line"
	score=$(echo "$line" | sed -n 's/.*: \([0-9.]*\) .*/\1/p')
	note "systemd-analyze security firezoned: exposure $score"
	echo "systemd-analyze security firezoned: $line" >>"$OUT/summary.txt"
	awk -v s="$score" 'BEGIN { exit !(s != "" && s <= 2.0) }' || { echo "exposure $score is above 2.0"; return 1; }
}

t_reinstall_upgrades() {
	old=$(main_pid)
	SUDO_USER=alice $INSTALL --from-dir "$DIST" || return 1
	new=$(main_pid)
	if [ "$new" = "$old" ] || [ "$new" = 0 ]; then
		echo "firezoned was not restarted ($old -> $new)"
		return 1
	fi
	t_active && runuser -l alice -c "$CTL status" >/dev/null
}

t_pkexec_user() {
	useradd -m -s /bin/sh carol || return 1
	out=$(PKEXEC_UID=$(id -u carol) $INSTALL --from-dir "$DIST" 2>&1) || { echo "$out"; return 1; }
	echo "$out"
	echo "$out" | grep -q "added user 'carol' to group 'firezone'" || { echo "carol was not added"; return 1; }
	id -nG carol | tr " " "\n" | grep -qx firezone || { echo "carol is not in group firezone"; return 1; }
	runuser -l carol -c "$CTL status" >/dev/null
}

t_e2e() {
	if [ ! -f /mnt/repo/devstack/world.ts ]; then
		echo "the source tree is not shared"
		return 1
	fi
	(cd /mnt/repo && timeout -k 5 300 "$FZ/bin/bun" tests/vm/guest/e2e.ts)
}

t_scope() {
	if [ ! -f /mnt/repo/devstack/world.ts ]; then
		echo "the source tree is not shared"
		return 1
	fi
	(cd /mnt/repo && timeout -k 5 600 "$FZ/bin/bun" tests/vm/guest/scope.ts)
}

t_e2e_userspace() {
	# Without the kernel module firezoned falls back to wireguard-go, which gets /dev/net/tun's fd.
	modprobe -r wireguard || { echo "cannot unload the wireguard module"; return 1; }
	echo "install wireguard /bin/false" >/etc/modprobe.d/fz-vmtest-no-wireguard.conf
	# This run also takes its token from a systemd credential encrypted at rest (LoadCredentialEncrypted=).
	(cd /mnt/repo && FZ_E2E_BACKEND=userspace FZ_E2E_TOKEN=credential timeout -k 5 300 "$FZ/bin/bun" tests/vm/guest/e2e.ts)
	rc=$?
	rm -f /etc/modprobe.d/fz-vmtest-no-wireguard.conf
	return $rc
}

t_dns() { # MODE: tests/vm/guest/dns.ts (resolved or resolv-conf)
	if [ ! -f /mnt/repo/devstack/world.ts ]; then
		echo "the source tree is not shared"
		return 1
	fi
	(cd /mnt/repo && timeout -k 5 900 "$FZ/bin/bun" tests/vm/guest/dns.ts "$1")
}
t_dns_resolved() { t_dns resolved; }
t_dns_resolv_conf() { t_dns resolv-conf; }
t_completions_and_man() {
	for f in /usr/local/share/bash-completion/completions/firezonectl /usr/local/share/zsh/site-functions/_firezonectl \
		/usr/local/share/fish/vendor_completions.d/firezonectl.fish /usr/local/share/man/man1/firezonectl.1 /usr/local/share/man/man8/firezoned.8; do
		[ "$(stat -c '%U %a' "$f" 2>/dev/null)" = "root 644" ] || { echo "$f: $(stat -c '%U %a' "$f" 2>&1)"; return 1; }
	done
	bash -n /usr/local/share/bash-completion/completions/firezonectl
}

t_settings_under_unit() {
	pid=$(systemctl show -p MainPID --value firezoned)
	$CTL settings set log_level info >/dev/null || return 1
	echo "# kept by settings set" >>/etc/firezoned/firezoned.conf
	others=$(grep -v '^log_level' /etc/firezoned/firezoned.conf)
	out=$($CTL settings set log_level debug 2>&1) || { echo "settings set: $out"; return 1; }
	echo "$out" | grep -q "applied now" || { echo "unexpected answer: $out"; return 1; }
	grep -qx "log_level = debug" /etc/firezoned/firezoned.conf || { echo "not written:"; cat /etc/firezoned/firezoned.conf; return 1; }
	[ "$(grep -v '^log_level' /etc/firezoned/firezoned.conf)" = "$others" ] || { echo "other lines changed"; cat /etc/firezoned/firezoned.conf; return 1; }
	[ "$(stat -c '%u %a' /etc/firezoned/firezoned.conf)" = "0 644" ] || { echo "owner/mode: $(stat -c '%u %g %a' /etc/firezoned/firezoned.conf)"; return 1; }
	sed -i 's/^log_level = debug$/log_level = warn/' /etc/firezoned/firezoned.conf
	systemctl reload firezoned || return 1
	$CTL settings get log_level --json | grep -q '"effective": "warn"' || { echo "SIGHUP did not reload"; return 1; }
	[ "$(systemctl show -p MainPID --value firezoned)" = "$pid" ] || { echo "reload restarted firezoned"; return 1; }
	$CTL settings unset log_level >/dev/null && t_active
}

t_stop_cleans_up() {
	systemctl stop firezoned || return 1
	[ ! -e /run/firezoned/ipc.sock ] || { echo "socket left after stop"; return 1; }
	! ip link show tun-firezone 2>/dev/null || { echo "tun-firezone left after stop"; return 1; }
	systemctl start firezoned && t_active
}

t_uninstall_leaves_nothing() {
	# As a crash between two starts would leave them: install.sh removes them too.
	ip rule add not fwmark 0xfd002021 table 0x2021fd00 priority 6410 protocol 122 || return 1
	ip route add blackhole 10.9.0.0/16 table 0x2021fd00 proto 122 || return 1
	$INSTALL --uninstall || return 1
	left=""
	[ -n "$(ip rule show table 0x2021fd00)" ] && left="$left rule"
	[ -n "$(ip route show table 0x2021fd00 2>/dev/null)" ] && left="$left route"
	[ -e /etc/systemd/system/firezoned.service ] && left="$left unit"
	systemctl cat firezoned >/dev/null 2>&1 && left="$left unit-known-to-systemd"
	getent group firezone >/dev/null && left="$left group"
	for b in firezoned firezonectl firezone-gui; do [ -e "/usr/local/bin/$b" ] && left="$left $b"; done
	[ -e /run/firezoned ] && left="$left /run/firezoned"
	ip link show tun-firezone >/dev/null 2>&1 && left="$left tun-firezone"
	pgrep -x firezoned >/dev/null && left="$left process"
	for f in /usr/local/share/applications/dev.firezone.client.desktop /usr/local/share/dbus-1/services/dev.firezone.client.service /etc/xdg/autostart/firezone-gui.desktop \
		/usr/local/share/bash-completion/completions/firezonectl /usr/local/share/zsh/site-functions/_firezonectl \
		/usr/local/share/fish/vendor_completions.d/firezonectl.fish /usr/local/share/man/man1/firezonectl.1 /usr/local/share/man/man8/firezoned.8; do
		[ -e "$f" ] && left="$left $f"
	done
	[ -z "$left" ] || { echo "left behind:$left"; return 1; }
	[ -d /etc/firezoned ] || { echo "--uninstall removed /etc/firezoned (only --purge should)"; return 1; }
}

t_purge() {
	$INSTALL --from-dir "$DIST" >/dev/null || return 1
	echo "not-a-real-token" >/etc/firezoned/token-test
	$INSTALL --purge || return 1
	for d in /etc/firezoned /var/lib/firezoned /var/log/firezoned; do
		[ ! -e "$d" ] || { echo "$d left after --purge"; return 1; }
	done
}

t_no_tun_refused() {
	out=$(unshare -m sh -c "mount -t tmpfs none /dev/net && $INSTALL --from-dir $DIST" 2>&1)
	rc=$?
	echo "$out"
	[ $rc -ne 0 ] || { echo "install.sh succeeded without /dev/net/tun"; return 1; }
	echo "$out" | grep -q "/dev/net/tun is missing" || { echo "no clear message"; return 1; }
	[ ! -e /usr/local/bin/firezoned ] || { echo "installed something anyway"; return 1; }
}

# A release laid out as install.sh downloads it: BASE/latest/linux-x86_64/{files, SHA256SUMS}.
make_release() { # DIR
	rel=$1/latest/linux-$(uname -m)
	mkdir -p "$rel"
	for f in firezoned firezonectl firezone-gui; do
		[ -f "$DIST/$f" ] && cp "$DIST/$f" "$rel/"
	done
	cp "$FZ/packaging/firezoned.service" "$FZ/packaging/firezone-gui.desktop" "$FZ/packaging/dev.firezone.client.desktop" "$FZ/packaging/dev.firezone.client.service" "$rel/"
	(cd "$rel" && sha256sum -- * >SHA256SUMS)
}

start_http() { # DIR PORT
	if busybox httpd --help >/dev/null 2>&1; then
		busybox httpd -p "127.0.0.1:$2" -h "$1"
	else
		echo "busybox httpd is missing"
		return 1
	fi
	wait_for 10 curl -fsS -o /dev/null "http://127.0.0.1:$2/latest/linux-$(uname -m)/SHA256SUMS"
}

t_download_install() {
	make_release /srv/good && start_http /srv/good 8081 || return 1
	FIREZONE_BASE_URL=http://127.0.0.1:8081 $INSTALL || return 1
	t_active && "$CTL" status >/dev/null &&
		expect_eq "installed firezoned" "$(sha256sum <"$DIST/firezoned")" "$(sha256sum </usr/local/bin/firezoned)"
}

t_tampered_refused() {
	$INSTALL --purge >/dev/null || return 1
	make_release /srv/bad || return 1
	printf 'x' >>"/srv/bad/latest/linux-$(uname -m)/firezoned"
	start_http /srv/bad 8082 || return 1
	out=$($INSTALL --base-url http://127.0.0.1:8082 2>&1)
	rc=$?
	echo "$out"
	[ $rc -ne 0 ] || { echo "install.sh accepted a tampered firezoned"; return 1; }
	echo "$out" | grep -q "checksum mismatch for firezoned " || { echo "no checksum message"; return 1; }
	for b in firezoned firezonectl; do
		[ ! -e "/usr/local/bin/$b" ] || { echo "$b was installed from a tampered release"; return 1; }
	done
	[ ! -e /etc/systemd/system/firezoned.service ] || { echo "unit installed from a tampered release"; return 1; }
}

t_kernel_smoke() { timeout -k 5 240 "$FZ/bin/kernel_smoke"; }

t_systemd_pid1() { expect_eq "pid 1" systemd "$(cat /proc/1/comm)"; }
check "the guest runs systemd as pid 1" t_systemd_pid1
check "install.sh --from-dir on a fresh system installs, adds the sudo user and says to log in again" t_fresh_install
check "firezoned is active after install" t_active
check "firezoned is enabled at boot" t_enabled
check "runtime dir, socket, /etc/firezoned, state, logs and binaries have the documented owners and modes" t_modes
check "firezone-gui, its firezone-fd0020211111:// sign-in handler and its autostart entry are installed" t_desktop_files
check "firezoned runs as root with only CAP_NET_ADMIN and CAP_NET_BIND_SERVICE and no_new_privs" t_only_net_admin
check "a user in group firezone (runuser -l) gets firezonectl status" t_member_status
check "a user in group firezone (su -l) gets firezonectl status --json" t_member_status_su
check "an installed firezoned without a portal URL reports not_configured with the file, the key and install.sh --api-url; sign-in exits 78" t_not_configured
check "install.sh --api-url writes firezoned.conf (644 root), keeps its other lines, and firezoned uses the URL after the restart" t_api_url
check "a user outside group firezone gets exit 77 and the usermod fix" t_outsider_refused
check "under the unit, alice's firezonectl doctor sees the unit, socket, access, TUN, WireGuard and rp_filter pass and the portal fail; logs reach her, the file does not" t_doctor_under_unit
check "root gets firezonectl version --json" t_root_version
check "under the unit: audit names alice with exe \"?\", and gpasswd -d takes away her right to sign out" t_identity_under_unit
check "kill -9 of firezoned: systemd restarts it, it removes the stale interface and the socket works again" t_kill9_restart
check "a root-only /etc/firezoned/token puts firezoned in service mode: members may read status, not sign out (77), audited" t_service_token
check "firezoned under the unit: no core dumps (LimitCORE=0) and not dumpable (PR_SET_DUMPABLE 0)" t_no_core_dumps
check "a token file other users could read: firezoned keeps serving, in service mode, with the chmod fix in its status" t_token_refused_still_serves
check "a token encrypted with systemd-creds and LoadCredentialEncrypted= puts firezoned in service mode; no plaintext on disk" t_encrypted_credential
check "systemd-analyze security firezoned: exposure 2.0 or lower" t_security_score
check "install.sh again upgrades in place and restarts firezoned" t_reinstall_upgrades
check "install.sh run through pkexec adds the PKEXEC_UID user to group firezone" t_pkexec_user
check "end to end under systemd: firezoned signs in to the devstack portal and reaches a resource through a gateway" t_e2e
check "session scope under the unit's sandbox: alice's interactive sign-in makes table inet firezone (nf_tables loaded by the sandboxed nft); her curl works, bob's is refused at once, root's works; bob cannot sign her out (77); sign-out and kill -9 then restart leave no table" t_scope
check "end to end under systemd with wireguard-go (no kernel module): sign-in and a resource through the gateway" t_e2e_userspace
check "DNS under the unit with systemd-resolved: resolvectl query and getent ahosts give proxy addresses for a resource name and real ones for others; kill -9 then restart leaves no link settings" t_dns_resolved
check "DNS under the unit in resolv-conf mode (install.sh opens only /etc/resolv.conf, or /etc for a symlink): getent ahosts, stop and kill -9 then restart restore the file byte for byte, install.sh --uninstall restores it, a symlink comes back as the same link" t_dns_resolv_conf
check "install.sh installs the bash, zsh and fish completions and the man pages (root, 644)" t_completions_and_man
check "under the unit: settings set writes firezoned.conf (keeping its other lines) and applies it; systemctl reload re-reads the file without a restart" t_settings_under_unit
check "systemctl stop removes the socket and the device" t_stop_cleans_up
check "install.sh --uninstall leaves no unit, group, binary, socket, device, policy rule, route or process" t_uninstall_leaves_nothing
check "install.sh --purge also removes the token, state and logs" t_purge
check "install.sh refuses early when /dev/net/tun is missing" t_no_tun_refused
check "install.sh downloads from FIREZONE_BASE_URL, checks SHA256SUMS and installs" t_download_install
check "install.sh refuses a release with a tampered artifact and installs nothing" t_tampered_refused
if [ -x "$FZ/bin/kernel_smoke" ]; then
	check "kernel WireGuard tunnel smoke test" t_kernel_smoke
else
	check "the kernel WireGuard module loads" modprobe wireguard
fi
