# The Debian package checks (sourced by run.sh after tests.sh; POSIX sh). The host built the packages
# from the same dist/ with `bun run package --fast`: deb/ at the tree's version, deb-old/ the same
# build numbered 0.0.1, to upgrade from. apt installs them from local files (the guest has no network;
# every dependency is in the image). They reuse the install.sh checks of tests.sh on the packaged
# paths, on the same boot.
# shellcheck shell=sh
DEB_DIR=/tmp/fz-debs
PKG_CTL=/usr/bin/firezonectl

deb_file() { # DIR PACKAGE
	for f in "$DEB_DIR/$1/$2"_*.deb; do
		[ -f "$f" ] && printf '%s\n' "$f" && return 0
	done
	echo "no $2 package in $1/"
	return 1
}

apt_get() { # ARGS...: apt-get, non-interactive (local files only: the guest has no network)
	DEBIAN_FRONTEND=noninteractive apt-get -y -q -o Dpkg::Use-Pty=0 "$@"
}

pkg_status() { # PACKAGE: dpkg's state of it (installed, config-files, not-installed...)
	s=$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null) || s=not-installed
	printf '%s\n' "${s:-not-installed}"
}

# Every file of the client outside dpkg's own database: names holding "firezone", and what is inside
# its three directories.
fz_files() {
	find /etc /usr /var /run -xdev \( -name '*firezone*' -o -path '/etc/firezoned/*' -o -path '/var/lib/firezoned/*' \
		-o -path '/var/log/firezoned/*' \) -not -path '/var/lib/dpkg/*' -not -path '/var/cache/apt/*' 2>/dev/null | sort
}

fingerprint() { # what the configuration and token hold
	(cd /etc/firezoned && sha256sum firezoned.conf token)
}

t_deb_setup() {
	rm -rf "$DEB_DIR" && mkdir -p "$DEB_DIR" && cp -r "$FZ/deb" "$FZ/deb-old" "$DEB_DIR/" || return 1
	# apt reads local packages as user _apt.
	chmod -R a+rX "$DEB_DIR"
	for u in alice bob; do id "$u" >/dev/null 2>&1 || useradd -m -s /bin/sh "$u" || return 1; done
	deb_file deb firezone-client && deb_file deb firezone-gui && deb_file deb-old firezone-client || return 1
	# What the install.sh checks before left (drop-in directories, in a full run): the baseline that
	# apt purge must return to.
	fz_files >"$DEB_DIR/baseline"
	echo "baseline:"
	cat "$DEB_DIR/baseline"
}

new_files() { # fz_files that were not there before the packages
	fz_files | comm -23 - "$DEB_DIR/baseline"
}

t_deb_refused_over_install_sh() {
	SUDO_USER=alice $INSTALL --from-dir "$DIST" >/dev/null || return 1
	printf '# kept across the switch to the package\nlog_level = debug\n' >/etc/firezoned/firezoned.conf
	chmod 0644 /etc/firezoned/firezoned.conf
	(umask 077 && printf 'vm-deb-token-0123\n' >/etc/firezoned/token) || return 1
	systemctl restart firezoned || return 1
	old=$(main_pid)
	out=$(apt_get install "$(deb_file deb-old firezone-client)" "$(deb_file deb-old firezone-gui)" 2>&1)
	rc=$?
	echo "$out"
	[ $rc -ne 0 ] || { echo "apt installed the packages over an install.sh install"; return 1; }
	echo "$out" | grep -q "sudo sh install.sh --uninstall" || { echo "the refusal does not name the fix"; return 1; }
	expect_eq "firezone-client after the refusal" not-installed "$(pkg_status firezone-client)" &&
		expect_eq "firezone-gui after the refusal" not-installed "$(pkg_status firezone-gui)" &&
		expect_eq "firezoned's pid after the refusal" "$old" "$(main_pid)" || return 1
	if [ ! -x /usr/local/bin/firezoned ] || [ -e /usr/bin/firezoned ] || [ -e /usr/bin/firezone-gui ]; then
		echo "the refused install changed the binaries"
		return 1
	fi
	t_active
}

t_deb_takes_over() {
	before=$(fingerprint) || return 1
	$INSTALL --uninstall >/dev/null || return 1
	out=$(apt_get install "$(deb_file deb-old firezone-client)" "$(deb_file deb-old firezone-gui)" 2>&1)
	rc=$?
	echo "$out"
	[ $rc -eq 0 ] || { echo "apt install failed ($rc)"; return 1; }
	echo "$out" | grep -q "sudo usermod -aG firezone USER" || { echo "postinst did not say how to add users"; return 1; }
	expect_eq "firezone-client" installed "$(pkg_status firezone-client)" &&
		expect_eq "firezone-gui" installed "$(pkg_status firezone-gui)" &&
		expect_eq "configuration and token after the switch" "$before" "$(fingerprint)" || return 1
	# install.sh --uninstall removed the group; the package made it again. Members are added by hand.
	usermod -aG firezone alice
}

t_deb_gui_files() {
	link=/usr/share/applications/dev.firezone.client.desktop
	grep -qx "MimeType=x-scheme-handler/firezone-fd0020211111;" "$link" || { echo "$link: no scheme handler"; return 1; }
	grep -qx "Exec=/usr/bin/firezone-gui --gapplication-service" /usr/share/dbus-1/services/dev.firezone.client.service ||
		{ echo "the D-Bus service does not start /usr/bin/firezone-gui"; return 1; }
	grep -qx "Exec=firezone-gui" /etc/xdg/autostart/firezone-gui.desktop || { echo "no autostart entry"; return 1; }
	expect_eq /usr/bin/firezone-gui "755 root:root" "$(stat -c '%a %U:%G' /usr/bin/firezone-gui)" || return 1
	# desktop-file-utils' dpkg trigger refreshed the database launchers look links up in.
	grep -q "^x-scheme-handler/firezone-fd0020211111=dev.firezone.client.desktop;" /usr/share/applications/mimeinfo.cache ||
		{ echo "mimeinfo.cache does not list the handler"; return 1; }
}

# What postinst opens to the sandbox for DNS (docs/dns.md, "The unit's sandbox"): nothing while
# systemd-resolved is in use (the earlier checks leave it so), /etc/resolv.conf alone once the host
# has a plain file and `dpkg-reconfigure` detects again, and nothing again when resolved is back.
DNS_DROP_IN=/etc/systemd/system/firezoned.service.d/dns-resolv-conf.conf
t_deb_dns_drop_in() {
	reconfigure() { DEBIAN_FRONTEND=noninteractive dpkg-reconfigure firezone-client; }
	in_use=no
	if systemctl is-active --quiet systemd-resolved; then
		case $(readlink /etc/resolv.conf) in *systemd/resolve*) in_use=yes ;; esac
	fi
	if [ "$in_use" = no ]; then
		# Run alone (FIREZONE_VM_ONLY=deb:), the DNS checks did not put resolved in use: do it here.
		echo "systemd-resolved was not in use (resolv.conf: $(ls -l /etc/resolv.conf)); putting it in use"
		systemctl start systemd-resolved && ln -sfn ../run/systemd/resolve/stub-resolv.conf /etc/resolv.conf && reconfigure || return 1
	fi
	[ ! -e "$DNS_DROP_IN" ] || { echo "with systemd-resolved in use, postinst wrote:"; cat "$DNS_DROP_IN"; return 1; }
	link=$(readlink /etc/resolv.conf)
	systemctl stop systemd-resolved || return 1
	rm -f /etc/resolv.conf && printf 'nameserver 10.77.1.1\n' >/etc/resolv.conf || return 1
	out=$(reconfigure 2>&1)
	rc=$?
	echo "$out"
	opened=$(grep '^ReadWritePaths=' "$DNS_DROP_IN" 2>/dev/null)
	seen=$(systemctl show -p ReadWritePaths --value firezoned)
	active=$(systemctl is-active firezoned)
	# Back to resolved before judging, so a failure leaves the later checks the host they expect.
	rm -f /etc/resolv.conf && ln -s "$link" /etc/resolv.conf
	systemctl start systemd-resolved
	[ $rc -eq 0 ] || { echo "dpkg-reconfigure failed ($rc)"; return 1; }
	expect_eq "the drop-in on a plain /etc/resolv.conf" "ReadWritePaths=-/etc/resolv.conf" "$opened" &&
		expect_eq "firezoned after dpkg-reconfigure" active "$active" || return 1
	echo "$seen" | grep -q "/etc/resolv.conf" || { echo "the unit does not open /etc/resolv.conf: ReadWritePaths=$seen"; return 1; }
	echo "$out" | grep -q "dpkg-reconfigure firezone-client" || { echo "postinst did not say how to follow a switch"; return 1; }
	reconfigure || return 1
	[ ! -e "$DNS_DROP_IN" ] || { echo "with systemd-resolved back, the drop-in stayed"; return 1; }
	t_active
}

t_deb_install_sh_refuses() {
	old=$(main_pid)
	for args in "--from-dir $DIST" "--purge"; do
		# shellcheck disable=SC2086 # the options are meant to split
		out=$($INSTALL $args 2>&1)
		rc=$?
		echo "$out"
		[ $rc -ne 0 ] || { echo "install.sh $args went ahead over the package"; return 1; }
		echo "$out" | grep -q "installed from the Debian package firezone-client" || { echo "install.sh $args: no clear refusal"; return 1; }
	done
	if [ -e /usr/local/bin/firezoned ] || [ ! -f /etc/firezoned/token ]; then echo "install.sh changed something"; return 1; fi
	expect_eq "firezoned's pid" "$old" "$(main_pid)"
}

t_deb_upgrade() {
	old=$(main_pid)
	before=$(fingerprint) || return 1
	new_client=$(deb_file deb firezone-client) || return 1
	want=$(dpkg-deb -f "$new_client" Version)
	apt_get install "$new_client" "$(deb_file deb firezone-gui)" || return 1
	expect_eq "installed version" "$want" "$(dpkg-query -W -f='${Version}' firezone-client)" &&
		expect_eq "firezone-gui version" "$want" "$(dpkg-query -W -f='${Version}' firezone-gui)" &&
		expect_eq "configuration and token after the upgrade" "$before" "$(fingerprint)" || return 1
	new=$(main_pid)
	if [ "$new" = "$old" ] || [ "$new" = 0 ]; then echo "the upgrade did not restart firezoned ($old -> $new)"; return 1; fi
	t_active && t_enabled && runuser -l alice -c "$PKG_CTL status" >/dev/null
}

# What `apt remove` leaves (docs/install.md): the configuration, token, state and logs, the GUI's
# autostart conffile, and systemd's enablement with the mask that keeps it from starting a missing unit.
DEB_KEPT_AFTER_REMOVE="/etc/firezoned
/etc/systemd/system/firezoned.service
/etc/systemd/system/multi-user.target.wants/firezoned.service
/etc/xdg/autostart/firezone-gui.desktop
/var/lib/firezoned
/var/lib/systemd/deb-systemd-helper-enabled/firezoned.service.dsh-also
/var/lib/systemd/deb-systemd-helper-enabled/multi-user.target.wants/firezoned.service
/var/lib/systemd/deb-systemd-helper-masked/firezoned.service
/var/log/firezoned"

t_deb_remove() {
	before=$(fingerprint) || return 1
	apt_get remove firezone-gui firezone-client || return 1
	expect_eq firezone-client config-files "$(pkg_status firezone-client)" &&
		expect_eq "firezoned after remove" inactive "$(systemctl is-active firezoned)" || return 1
	left=$(new_files | grep -v '^/etc/firezoned/\|^/var/lib/firezoned/\|^/var/log/firezoned/')
	if [ "$left" != "$DEB_KEPT_AFTER_REMOVE" ]; then
		echo "after apt remove, expected:"
		echo "$DEB_KEPT_AFTER_REMOVE"
		echo "found:"
		echo "$left"
		echo "apt remove did not leave exactly the documented files"
		return 1
	fi
	expect_eq /etc/systemd/system/firezoned.service /dev/null "$(readlink /etc/systemd/system/firezoned.service)" &&
		expect_eq "configuration and token after remove" "$before" "$(fingerprint)" || return 1
	getent group firezone >/dev/null || { echo "remove deleted group firezone"; return 1; }
	pgrep -x firezoned >/dev/null && { echo "firezoned still runs"; return 1; }
	ip link show tun-firezone >/dev/null 2>&1 && { echo "tun-firezone left"; return 1; }
	if grep -q "firezone" /usr/share/applications/mimeinfo.cache 2>/dev/null; then echo "mimeinfo.cache still lists the handler"; return 1; fi
	return 0
}

t_deb_purge() {
	apt_get purge firezone-gui firezone-client || return 1
	expect_eq firezone-client not-installed "$(pkg_status firezone-client)" &&
		expect_eq firezone-gui not-installed "$(pkg_status firezone-gui)" || return 1
	left=$(new_files)
	[ -z "$left" ] || { echo "left after apt purge:"; echo "$left"; echo "apt purge left files behind"; return 1; }
	if getent group firezone >/dev/null; then echo "purge kept group firezone"; return 1; fi
	if systemctl cat firezoned >/dev/null 2>&1; then echo "systemd still knows firezoned"; return 1; fi
	return 0
}

t_deb_member_status() { t_member_status && t_member_status_su; }

# shellcheck disable=SC2034 # read by the tests.sh checks reused here
CTL=$PKG_CTL
check "deb: the packages are shared in; what the earlier checks left is noted" t_deb_setup
check "deb: apt refuses to install over an install.sh install, and nothing changes" t_deb_refused_over_install_sh
check "deb: after install.sh --uninstall, apt install takes the configuration and token over and says how to add users" t_deb_takes_over
check "deb: firezoned is active after apt install" t_active
check "deb: firezoned is enabled at boot" t_enabled
check "deb: runtime dir, socket, /etc/firezoned, state, logs and binaries have the same owners and modes as with install.sh" t_modes
check "deb: firezoned runs as root with only CAP_NET_ADMIN and CAP_NET_BIND_SERVICE and no_new_privs" t_only_net_admin
check "deb: a user in group firezone gets firezonectl status (runuser -l and su -l)" t_deb_member_status
check "deb: a user outside group firezone gets exit 77 and the usermod fix" t_outsider_refused
check "deb: systemd-analyze security firezoned: exposure 2.0 or lower" t_security_score
check "deb: firezone-gui's sign-in handler, D-Bus service and autostart entry are installed and the desktop database lists the handler" t_deb_gui_files
check "deb: postinst opens nothing for DNS with systemd-resolved in use; dpkg-reconfigure on a plain /etc/resolv.conf opens that file alone, and removes it once resolved is back" t_deb_dns_drop_in
check "deb: install.sh refuses to install or purge over the package, and changes nothing" t_deb_install_sh_refuses
check "deb: apt install of a newer build upgrades both packages, restarts firezoned and keeps configuration, token and group" t_deb_upgrade
check "deb: apt remove stops firezoned and leaves exactly the documented files" t_deb_remove
check "deb: apt purge removes configuration, token, state, logs, group and systemd's records" t_deb_purge
