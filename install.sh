#!/bin/sh
# Installs, upgrades or removes the Firezone client for Linux: firezoned (the systemd service),
# firezonectl and firezone-gui. Run as root, e.g.  curl -fsSL <base-url>/install.sh | sudo sh
set -eu

BIN_DIR=/usr/local/bin
UNIT_FILE=/etc/systemd/system/firezoned.service
DROP_IN_DIR=/etc/systemd/system/firezoned.service.d
# Opens /etc/resolv.conf (or /etc, for a symlink) to the unit when DNS control is resolv-conf.
DNS_DROP_IN=$DROP_IN_DIR/dns-resolv-conf.conf
RESOLV_CONF=/etc/resolv.conf
APP_DIR=/usr/local/share/applications
DEEP_LINK_DESKTOP=$APP_DIR/dev.firezone.client.desktop
# Before sign-in links came over D-Bus, the handler passed them in argv; upgrades remove it.
OLD_DEEP_LINK_DESKTOP=$APP_DIR/firezone-gui-deep-link.desktop
DBUS_SERVICE_DIR=/usr/local/share/dbus-1/services
DBUS_SERVICE=$DBUS_SERVICE_DIR/dev.firezone.client.service
APP_DESKTOP=$APP_DIR/firezone-gui.desktop
AUTOSTART_DESKTOP=/etc/xdg/autostart/firezone-gui.desktop
# Shell completions and man pages (dist/completions, dist/man), where each tool looks under /usr/local.
BASH_COMPLETION=/usr/local/share/bash-completion/completions/firezonectl
ZSH_COMPLETION=/usr/local/share/zsh/site-functions/_firezonectl
FISH_COMPLETION=/usr/local/share/fish/vendor_completions.d/firezonectl.fish
MAN1=/usr/local/share/man/man1/firezonectl.1
MAN8=/usr/local/share/man/man8/firezoned.8
CONFIG_DIR=/etc/firezoned
CONFIG_FILE=$CONFIG_DIR/firezoned.conf
STATE_DIR=/var/lib/firezoned
LOG_DIR=/var/log/firezoned
GROUP=firezone
SERVICE=firezoned
TUN_NAME=tun-firezone

usage() {
	cat <<EOF
Usage: install.sh [OPTION]...

Installs the Firezone client: firezoned, firezonectl and (when present) firezone-gui into $BIN_DIR,
the systemd unit $UNIT_FILE, the system group '$GROUP' (and adds the user who ran sudo to it),
$CONFIG_DIR (root only), the firezone:// sign-in handler and the GUI autostart entry; then enables
and starts firezoned. Running it again upgrades in place and restarts firezoned.

Options:
  --base-url URL   download the release from URL (default: \$FIREZONE_BASE_URL). Files are read from
                   URL/VERSION/linux-ARCH/: firezoned, firezonectl, firezone-gui (optional),
                   firezoned.service, the .desktop files and SHA256SUMS, and every file is checked
                   against SHA256SUMS before anything is installed.
  --version V      the release to download (default: latest)
  --api-url URL    the portal firezoned signs in to, wss://host[:port][/path]: written as
                   portal_url to $CONFIG_FILE. An existing file keeps every other
                   line; only its portal_url line is replaced. Without it, an existing setting
                   is kept; with neither, firezoned reports not_configured until one is set.
  --allow-insecure-portal
                   with --api-url: accept a plaintext ws:// or http:// portal (labs only; the
                   token then crosses the network unencrypted). Writes allow_insecure_portal = true
  --from-dir DIR   install local build output instead of downloading: the binaries from DIR
                   (e.g. dist/), the unit and .desktop files from DIR or from packaging/ beside
                   this script
  --uninstall      stop and remove everything install.sh installed (the unit, the binaries, the
                   .desktop files, completions, man pages, the group); keeps the token, state and
                   logs. Puts back /etc/resolv.conf if firezoned replaced it and could not restore
                   it itself
  --purge          like --uninstall, and also delete the token and state: $CONFIG_DIR,
                   $STATE_DIR and $LOG_DIR
  -h, --help       show this help

Environment:
  FIREZONE_BASE_URL  default for --base-url
  SUDO_USER, PKEXEC_UID
                     the user to add to group '$GROUP' (set by sudo and pkexec)

Needs root, systemd as the init system and /dev/net/tun. Changes nothing while the client is
installed from the Debian packages firezone-client/firezone-gui: use apt for those.
EOF
}

say() { printf 'install.sh: %s\n' "$*"; }
die() {
	printf 'install.sh: error: %s\n' "$*" >&2
	exit 1
}

MODE=install
API_URL=
ALLOW_INSECURE=no
FROM_DIR=
BASE_URL=${FIREZONE_BASE_URL:-}
VERSION=latest
while [ $# -gt 0 ]; do
	case $1 in
	--from-dir)
		[ $# -ge 2 ] || die "--from-dir needs a directory"
		FROM_DIR=$2
		shift 2
		;;
	--from-dir=*)
		FROM_DIR=${1#*=}
		shift
		;;
	--base-url)
		[ $# -ge 2 ] || die "--base-url needs a URL"
		BASE_URL=$2
		shift 2
		;;
	--base-url=*)
		BASE_URL=${1#*=}
		shift
		;;
	--api-url)
		[ $# -ge 2 ] || die "--api-url needs a URL, e.g. --api-url wss://portal.example.com"
		API_URL=$2
		shift 2
		;;
	--api-url=*)
		API_URL=${1#*=}
		shift
		;;
	--allow-insecure-portal)
		ALLOW_INSECURE=yes
		shift
		;;
	--version)
		[ $# -ge 2 ] || die "--version needs a version"
		VERSION=$2
		shift 2
		;;
	--version=*)
		VERSION=${1#*=}
		shift
		;;
	--uninstall)
		MODE=uninstall
		shift
		;;
	--purge)
		MODE=purge
		shift
		;;
	-h | --help)
		usage
		exit 0
		;;
	*)
		printf 'install.sh: unknown option %s\n\n' "$1" >&2
		usage >&2
		exit 64
		;;
	esac
done

# Checks the portal URL's shape with case patterns only (no eval, no command substitution of it),
# before anything is installed. firezoned checks it again when it reads the file.
check_api_url() {
	[ -n "$API_URL" ] || return 0
	[ "$MODE" = install ] || die "--api-url is for installing; it makes no sense with --uninstall or --purge"
	[ ${#API_URL} -le 2048 ] || die "--api-url is longer than 2048 characters"
	case $API_URL in
	*[!A-Za-z0-9._~:/%@[\]-]*) die "--api-url holds characters a portal URL does not need (spaces, quotes, ?, #, control characters...); write it like wss://portal.example.com" ;;
	esac
	case $API_URL in
	wss://* | https://*) ;;
	ws://* | http://*)
		[ "$ALLOW_INSECURE" = yes ] || die "--api-url '$API_URL' is plaintext: the sign-in token and the tunnel's configuration would cross the network unencrypted. Use wss://, or for a lab add --allow-insecure-portal"
		;;
	*) die "--api-url '$API_URL' must start with wss:// (or https://)" ;;
	esac
	rest=${API_URL#*://}
	authority=${rest%%/*}
	case $authority in
	"" | :* | *@*) die "--api-url '$API_URL' has no host (or carries credentials); write it like wss://portal.example.com" ;;
	esac
	return 0
}

# Sets KEY = VALUE in the configuration file: replaces the key's line where it is, else appends it.
# Every other line is kept as it was. The new file is written beside the old one and moved in place.
set_config_key() { # KEY VALUE
	install -d -m 0700 -o root -g root "$CONFIG_DIR"
	tmp=$CONFIG_FILE.new
	if [ -f "$CONFIG_FILE" ]; then
		awk -v key="$1" -v line="$1 = $2" '
			BEGIN { done = 0 }
			{
				s = $0
				sub(/^[ \t]+/, "", s)
				if (!done && index(s, key) == 1 && substr(s, length(key) + 1) ~ /^[ \t]*=/) { print line; done = 1; next }
				print
			}
			END { if (!done) print line }
		' "$CONFIG_FILE" >"$tmp" || die "cannot write $tmp"
	else
		{
			echo "# firezoned's configuration; see docs/configuration.md. Keys: portal_url, allow_insecure_portal,"
			echo "# ca_file, log_level. Change them with: sudo firezonectl settings set KEY VALUE (or edit, then: sudo systemctl reload firezoned)"
			echo "$1 = $2"
		} >"$tmp" || die "cannot write $tmp"
	fi
	if ! { chown root:root "$tmp" && chmod 0644 "$tmp" && mv -f "$tmp" "$CONFIG_FILE"; }; then
		die "cannot install $CONFIG_FILE"
	fi
}

write_config() {
	[ -n "$API_URL" ] || return 0
	set_config_key portal_url "$API_URL"
	if [ "$ALLOW_INSECURE" = yes ]; then set_config_key allow_insecure_portal true; fi
	say "wrote portal_url = $API_URL to $CONFIG_FILE"
}

# A client installed from the Debian packages belongs to dpkg: install.sh neither installs over it
# nor removes it, so two installs never run one daemon from two places (docs/install.md).
check_package() {
	command -v dpkg-query >/dev/null 2>&1 || return 0
	for pkg in firezone-client firezone-gui; do
		status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null) || continue
		case $status in
		"" | not-installed) ;;
		config-files)
			# Removed but not purged: only /etc/firezoned is left, which this install uses too.
			if [ "$MODE" = install ]; then
				say "note: dpkg keeps the configuration of the removed package $pkg; 'apt purge $pkg' would delete $CONFIG_DIR, which this installation uses too"
			fi
			;;
		*)
			version=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null || true)
			die "the Firezone client is installed from the Debian package $pkg $version (dpkg state: $status), so install.sh changes nothing. Upgrade it with: sudo apt install ./firezone-client_VERSION_ARCH.deb ./firezone-gui_VERSION_ARCH.deb; remove it with: sudo apt remove firezone-client firezone-gui (apt purge also deletes $CONFIG_DIR). To switch to install.sh, remove the packages first: $CONFIG_DIR is kept."
			;;
		esac
	done
}

preflight() {
	[ "$(id -u)" -eq 0 ] || die "must run as root. Run it with sudo: sudo sh install.sh [OPTION]..."
	if [ ! -d /run/systemd/system ]; then
		init=$(ps -p 1 -o comm= 2>/dev/null || echo unknown)
		die "firezoned runs as a systemd service, but this system was not booted with systemd (pid 1 is '$init'). In a container, use the Docker image instead (see docs/docker.md)."
	fi
	command -v systemctl >/dev/null 2>&1 || die "systemctl not found, but systemd is running; is PATH complete?"
	if [ "$MODE" = install ] && [ ! -c /dev/net/tun ]; then
		die "/dev/net/tun is missing, so firezoned cannot create its tunnel. Load the module (modprobe tun) or, in a container, pass --device /dev/net/tun."
	fi
}

# The directory holding packaging files next to this script, when it runs from a checkout.
script_packaging_dir() {
	case $0 in
	*/install.sh | install.sh)
		d=$(cd "$(dirname "$0")" && pwd)/packaging
		[ -d "$d" ] && printf '%s\n' "$d"
		;;
	esac
	return 0
}

# find_file NAME: prints the path of NAME from the source directory or the packaging directory.
find_file() {
	for d in "$SRC_DIR" "$PKG_DIR"; do
		if [ -n "$d" ] && [ -f "$d/$1" ]; then
			printf '%s\n' "$d/$1"
			return 0
		fi
	done
	return 1
}

fetch() {
	if command -v curl >/dev/null 2>&1; then
		curl -fsSL --retry 2 -o "$2" "$1"
	elif command -v wget >/dev/null 2>&1; then
		wget -q -O "$2" "$1"
	else
		die "neither curl nor wget is installed; install one, or use --from-dir"
	fi
}

arch() {
	case $(uname -m) in
	x86_64 | amd64) echo x86_64 ;;
	aarch64 | arm64) echo aarch64 ;;
	*) die "no release for this architecture ($(uname -m)); build from source and use --from-dir" ;;
	esac
}

# Downloads the release into $TMP and checks every file against SHA256SUMS before anything is used.
download_release() {
	[ -n "$BASE_URL" ] || die "no download location: pass --base-url URL (or set FIREZONE_BASE_URL), or install local build output with --from-dir DIR"
	command -v sha256sum >/dev/null 2>&1 || die "sha256sum not found (coreutils)"
	url=${BASE_URL%/}/$VERSION/linux-$(arch)
	say "downloading from $url"
	fetch "$url/SHA256SUMS" "$TMP/SHA256SUMS" || die "cannot download $url/SHA256SUMS"
	mkdir -p "$TMP/completions" "$TMP/man"
	for f in firezoned firezonectl firezoned.service firezone-gui firezone-gui.desktop dev.firezone.client.desktop dev.firezone.client.service \
		completions/firezonectl.bash completions/_firezonectl completions/firezonectl.fish man/firezonectl.1 man/firezoned.8; do
		if ! grep -q "^[0-9a-f]\{64\}  \*\{0,1\}$f\$" "$TMP/SHA256SUMS"; then
			case $f in
			firezone-gui* | completions/* | man/*) continue ;;
			*) die "SHA256SUMS at $url does not list $f; refusing an incomplete release" ;;
			esac
		fi
		fetch "$url/$f" "$TMP/$f" || die "cannot download $url/$f"
		expected=$(grep "^[0-9a-f]\{64\}  \*\{0,1\}$f\$" "$TMP/SHA256SUMS" | head -n 1 | cut -c1-64)
		actual=$(sha256sum "$TMP/$f" | cut -c1-64)
		if [ "$expected" != "$actual" ]; then
			rm -rf "$TMP"
			die "checksum mismatch for $f (expected $expected, got $actual): the download is corrupt or has been tampered with. Nothing was installed."
		fi
	done
	say "all files match SHA256SUMS"
}

install_file() { # MODE SRC DEST: atomic replace, so a running binary is never half-written
	install -m "$1" -o root -g root "$2" "$3.new"
	mv -f "$3.new" "$3"
}

invoking_user() {
	if [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ]; then
		printf '%s\n' "$SUDO_USER"
	elif [ -n "${PKEXEC_UID:-}" ] && [ "$PKEXEC_UID" != 0 ]; then
		getent passwd "$PKEXEC_UID" | cut -d: -f1
	fi
}

# The dns_control mode firezoned will use: the setting in the configuration file, else detected the
# way firezoned detects it (lib/dns/dns_control.ts): resolv.conf points at resolved, and resolved
# runs now (its runtime directory outlives it).
dns_mode() {
	m=$(sed -n 's/^[[:space:]]*dns_control[[:space:]]*=[[:space:]]*\([a-z-]*\)[[:space:]]*$/\1/p' "$CONFIG_FILE" 2>/dev/null | tail -n 1)
	case $m in
	systemd-resolved | resolv-conf | off)
		echo "$m"
		return 0
		;;
	esac
	if [ -d /run/systemd/resolve ] && systemctl is-active --quiet systemd-resolved 2>/dev/null; then
		if [ -L "$RESOLV_CONF" ]; then
			case $(readlink "$RESOLV_CONF") in
			*systemd/resolve*)
				echo systemd-resolved
				return 0
				;;
			esac
		fi
		if grep -q '^[[:space:]]*nameserver[[:space:]][[:space:]]*127\.0\.0\.53[[:space:]]*$' "$RESOLV_CONF" 2>/dev/null; then
			echo systemd-resolved
			return 0
		fi
	fi
	echo resolv-conf
}

# The unit's sandbox keeps /etc read-only. resolv-conf mode needs /etc/resolv.conf writable: a
# regular file is opened alone (firezoned rewrites it in place); a symlink or a missing file needs
# /etc itself, since replacing a directory entry is a write to the directory (docs/dns.md). Other
# modes get no opening at all.
write_dns_drop_in() {
	mode=$(dns_mode)
	if [ "$mode" != resolv-conf ]; then
		rm -f "$DNS_DROP_IN"
		rmdir "$DROP_IN_DIR" 2>/dev/null || true
		return 0
	fi
	if [ -f "$RESOLV_CONF" ] && [ ! -L "$RESOLV_CONF" ]; then
		open_path=-$RESOLV_CONF
		why="firezoned rewrites it in place"
	else
		open_path=/etc
		why="$RESOLV_CONF is a symlink or missing: replacing it writes to /etc"
		say "DNS control is resolv-conf and $RESOLV_CONF is not a regular file: the unit may write to /etc (see docs/dns.md)"
	fi
	mkdir -p "$DROP_IN_DIR"
	printf '# Written by install.sh: dns_control is resolv-conf (%s).\n[Service]\nReadWritePaths=%s\n' "$why" "$open_path" >"$DNS_DROP_IN.new"
	chmod 0644 "$DNS_DROP_IN.new"
	mv -f "$DNS_DROP_IN.new" "$DNS_DROP_IN"
}

# Puts back the /etc/resolv.conf firezoned replaced, if it is still firezoned's: the procedure of
# docs/dns.md ("Restoring by hand"), with firezoned's backup in $STATE_DIR/dns as the source. Run
# only while firezoned is stopped.
fz_dns_restore() {
	d="${1:-/var/lib/firezoned}/dns"
	f="${2:-/etc/resolv.conf}"
	[ -f "$d/resolv.conf.ours" ] || return 0
	if { [ ! -e "$f" ] && [ ! -L "$f" ]; } || { [ -f "$f" ] && [ ! -L "$f" ] && cmp -s "$f" "$d/resolv.conf.ours"; }; then
		if [ -f "$d/resolv.conf.link" ]; then
			ln -s "$(cat "$d/resolv.conf.link")" "$f.fz-restore" && mv -f "$f.fz-restore" "$f"
		elif [ -f "$d/resolv.conf.backup" ]; then
			cp -p "$d/resolv.conf.backup" "$f.fz-restore" && mv -f "$f.fz-restore" "$f"
		else
			rm -f "$f"
		fi
	fi
	rm -f "$d/resolv.conf.link" "$d/resolv.conf.backup" "$d/resolv.conf.ours"
}

# Completions and man pages, when the build has them (optional in a release).
install_docs() {
	for pair in "completions/firezonectl.bash $BASH_COMPLETION" "completions/_firezonectl $ZSH_COMPLETION" \
		"completions/firezonectl.fish $FISH_COMPLETION" "man/firezonectl.1 $MAN1" "man/firezoned.8 $MAN8"; do
		src=${pair%% *}
		dest=${pair#* }
		if f=$(find_file "$src"); then
			mkdir -p "$(dirname "$dest")"
			install_file 0644 "$f" "$dest"
		fi
	done
}

do_install() {
	TMP=$(mktemp -d)
	trap 'rm -rf "$TMP"' EXIT
	PKG_DIR=
	if [ -n "$FROM_DIR" ]; then
		[ -d "$FROM_DIR" ] || die "--from-dir $FROM_DIR: no such directory"
		SRC_DIR=$(cd "$FROM_DIR" && pwd)
		PKG_DIR=$(script_packaging_dir)
	else
		download_release
		SRC_DIR=$TMP
	fi
	for f in firezoned firezonectl firezoned.service; do
		find_file "$f" >/dev/null || die "$f not found in $SRC_DIR${PKG_DIR:+ or $PKG_DIR}"
	done

	upgrade=no
	[ -f "$UNIT_FILE" ] && upgrade=yes

	if getent group "$GROUP" >/dev/null 2>&1; then
		:
	else
		groupadd --system "$GROUP" || die "cannot create group $GROUP"
		say "created system group '$GROUP'"
	fi
	user=$(invoking_user)
	if [ -n "$user" ]; then
		if id -nG "$user" 2>/dev/null | tr ' ' '\n' | grep -qx "$GROUP"; then
			say "user '$user' is already in group '$GROUP'"
		else
			usermod -aG "$GROUP" "$user" || die "cannot add $user to group $GROUP"
			say "added user '$user' to group '$GROUP'. Log out and in again (or reboot) so firezonectl and firezone-gui may talk to firezoned."
		fi
	fi

	install -d -m 0755 "$BIN_DIR"
	install_file 0755 "$(find_file firezoned)" "$BIN_DIR/firezoned"
	install_file 0755 "$(find_file firezonectl)" "$BIN_DIR/firezonectl"
	if gui=$(find_file firezone-gui); then
		install_file 0755 "$gui" "$BIN_DIR/firezone-gui"
		mkdir -p "$APP_DIR" /etc/xdg/autostart
		rm -f "$OLD_DEEP_LINK_DESKTOP"
		if f=$(find_file dev.firezone.client.desktop); then install_file 0644 "$f" "$DEEP_LINK_DESKTOP"; fi
		# D-Bus activation of firezone-gui for a sign-in link when it is not running.
		if f=$(find_file dev.firezone.client.service); then
			mkdir -p "$DBUS_SERVICE_DIR"
			install_file 0644 "$f" "$DBUS_SERVICE"
		fi
		if f=$(find_file firezone-gui.desktop); then
			install_file 0644 "$f" "$APP_DESKTOP"
			install_file 0644 "$f" "$AUTOSTART_DESKTOP"
		fi
		if command -v update-desktop-database >/dev/null 2>&1; then update-desktop-database -q "$APP_DIR" || true; fi
	else
		say "no firezone-gui in this build; installing the daemon and the CLI only"
	fi

	install_docs

	install -d -m 0700 -o root -g root "$CONFIG_DIR"
	chmod 0700 "$CONFIG_DIR"
	write_config
	install_file 0644 "$(find_file firezoned.service)" "$UNIT_FILE"
	write_dns_drop_in
	systemctl daemon-reload
	systemctl enable --quiet "$SERVICE"
	systemctl reset-failed "$SERVICE" 2>/dev/null || true
	# Type=notify: restart returns once firezoned reports READY=1, or fails.
	if ! systemctl restart "$SERVICE"; then
		journalctl -u "$SERVICE" -n 20 --no-pager >&2 || true
		die "firezoned did not start; see: journalctl -u $SERVICE"
	fi
	if [ "$upgrade" = yes ]; then
		say "upgraded and restarted firezoned ($("$BIN_DIR/firezoned" --version 2>/dev/null || echo unknown version))"
	else
		say "installed and started firezoned ($("$BIN_DIR/firezoned" --version 2>/dev/null || echo unknown version))"
	fi
	say "check it with: firezonectl status"
	if ! grep -q '^[[:space:]]*portal_url[[:space:]]*=' "$CONFIG_FILE" 2>/dev/null; then
		say "firezoned has no portal yet (state not_configured): run: firezonectl settings set portal_url wss://<your portal> (it applies at once)"
	fi
	if [ ! -f "$CONFIG_DIR/token" ]; then
		say "for a headless (service account) client, put the token in $CONFIG_DIR/token (mode 0600) and run: systemctl restart firezoned"
	fi
	# A desktop sign-in is scoped to its user with nftables rules (docs/security.md): without nft
	# such a session refuses to come up, so say it now rather than at the first sign-in.
	if ! command -v nft >/dev/null 2>&1 && [ ! -x /usr/sbin/nft ]; then
		say "warning: nft (package nftables) is missing: desktop sign-ins, scoped to their user with nftables, will fail until it is installed (apt-get install nftables)"
	fi
}

do_uninstall() {
	if systemctl list-unit-files "$SERVICE.service" >/dev/null 2>&1 && [ -f "$UNIT_FILE" ]; then
		# A clean stop puts the system's DNS configuration back itself.
		systemctl disable --now --quiet "$SERVICE" 2>/dev/null || true
	fi
	# A firezoned outside the unit (started by hand) still owns /etc/resolv.conf: restoring under it
	# would race with its own restore on exit. Stop before removing anything.
	if pgrep -x firezoned >/dev/null 2>&1; then
		pids=$(pgrep -x firezoned | tr '\n' ' ')
		die "firezoned is still running outside systemd (pid ${pids% }). Stop it (kill -TERM ${pids% }) so it restores DNS, then run install.sh --uninstall again. Nothing was removed."
	fi
	# What a daemon that could not stop cleanly (kill -9, power cut) left: its backup is the source.
	if [ -f "$STATE_DIR/dns/resolv.conf.ours" ]; then
		fz_dns_restore "$STATE_DIR" "$RESOLV_CONF" && say "restored $RESOLV_CONF from firezoned's backup"
	fi
	rm -f "$UNIT_FILE" "$DNS_DROP_IN"
	rmdir "$DROP_IN_DIR" 2>/dev/null || true
	systemctl daemon-reload
	systemctl reset-failed "$SERVICE" 2>/dev/null || true
	# firezoned removes its device, policy rules and routes on stop; this only catches what a crash
	# left: the device, and the rules and routes marked as firezoned's (priority 6410, table
	# 0x2021fd00, protocol 122: docs/tunnel.md). Nothing else is touched.
	if command -v ip >/dev/null 2>&1; then
		if ip link show "$TUN_NAME" >/dev/null 2>&1; then
			ip link delete "$TUN_NAME" || true
		fi
		for family in -4 -6; do
			while ip "$family" rule del priority 6410 not fwmark 0xfd002021 table 0x2021fd00 protocol 122 2>/dev/null; do :; done
			ip "$family" route flush table 0x2021fd00 proto 122 2>/dev/null || true
			# The Internet Resource's rules and table (docs/internet-resource.md).
			while ip "$family" rule del priority 6420 table main suppress_prefixlength 0 protocol 122 2>/dev/null; do :; done
			while ip "$family" rule del priority 6430 not fwmark 0xfd002021 table 0x2021fd01 protocol 122 2>/dev/null; do :; done
			ip "$family" route flush table 0x2021fd01 proto 122 2>/dev/null || true
		done
	fi
	rm -f "$BIN_DIR/firezoned" "$BIN_DIR/firezonectl" "$BIN_DIR/firezone-gui"
	rm -f "$DEEP_LINK_DESKTOP" "$OLD_DEEP_LINK_DESKTOP" "$DBUS_SERVICE" "$APP_DESKTOP" "$AUTOSTART_DESKTOP"
	rm -f "$BASH_COMPLETION" "$ZSH_COMPLETION" "$FISH_COMPLETION" "$MAN1" "$MAN8"
	if command -v update-desktop-database >/dev/null 2>&1 && [ -d "$APP_DIR" ]; then
		update-desktop-database -q "$APP_DIR" || true
	fi
	rm -rf /run/firezoned
	if getent group "$GROUP" >/dev/null 2>&1; then
		groupdel "$GROUP" || say "could not remove group '$GROUP'; remove it with: groupdel $GROUP"
	fi
	if [ "$MODE" = purge ]; then
		rm -rf "$CONFIG_DIR" "$STATE_DIR" "$LOG_DIR"
		say "removed firezoned, its token, state and logs"
	else
		say "removed firezoned; kept $CONFIG_DIR, $STATE_DIR and $LOG_DIR (use --purge to delete them)"
	fi
}

check_api_url
check_package
preflight
case $MODE in
install) do_install ;;
uninstall | purge) do_uninstall ;;
esac
