#!/bin/sh
# Run in the Dockerfile's build stage: assembles in $1 (/rootfs) the whole root filesystem of the
# final image, which is FROM scratch: the two programs, wireguard-go, tini, getent (firezoned looks
# up a peer's groups with it), dash (the entrypoint and the health check are sh scripts), the
# libraries ldd says they link against, and a minimal /etc. Nothing else: no package manager, no
# coreutils, no apt state.
set -eu
out=${1:?usage: rootfs.sh OUTDIR}

programs="/usr/local/bin/firezoned /usr/local/bin/firezonectl /usr/bin/wireguard-go /usr/bin/tini /usr/bin/getent /usr/bin/dash"

# Debian's merged /usr: /bin, /sbin, /lib and /lib64 are links into /usr, as in the base.
install -d -m 0755 "$out/usr/bin" "$out/usr/sbin" "$out/usr/lib" "$out/usr/lib64" "$out/usr/local/bin"
for d in bin sbin lib lib64; do ln -s "usr/$d" "$out/$d"; done

# Copies a path as the base has it: the link itself where it is one (e.g. /usr/lib64/ld-linux...),
# then what it finally points at.
copy() {
	dir=$(readlink -f "$(dirname "$1")")
	canonical="$dir/$(basename "$1")"
	real=$(readlink -f "$1")
	install -d "$out$(dirname "$real")" "$out$dir"
	[ -e "$out$real" ] || cp -p "$real" "$out$real"
	[ "$canonical" = "$real" ] || [ -e "$out$canonical" ] || cp -P "$canonical" "$out$canonical"
}

for p in $programs; do
	copy "$p"
	# ldd lines: "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)".
	for lib in $(ldd "$p" 2>/dev/null | sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) .*/\1/p'); do
		copy "$lib"
	done
done
ln -s dash "$out/usr/bin/sh"
install -m 0755 /usr/local/bin/firezone-entrypoint /usr/local/bin/firezone-healthcheck "$out/usr/local/bin/"

# Accounts: root runs firezoned; `firezone` (uid 1000) is the member user for `docker exec -u firezone`;
# nobody stands for any other user, whom firezoned refuses.
install -d -m 0755 "$out/etc"
cat >"$out/etc/passwd" <<'END'
root:x:0:0:root:/root:/bin/sh
firezone:x:1000:1000:Firezone operator:/nonexistent:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
END
cat >"$out/etc/group" <<'END'
root:x:0:
firezone:x:1000:firezone
nogroup:x:65534:
END
cat >"$out/etc/nsswitch.conf" <<'END'
passwd: files
group: files
shadow: files
hosts: files dns
END
chmod 0644 "$out/etc/passwd" "$out/etc/group" "$out/etc/nsswitch.conf"

# firezoned's directories (0700, root's), /run and its /var/run link (wireguard-go's UAPI sockets go
# to /var/run/wireguard), and /tmp.
install -d -m 0700 "$out/etc/firezoned" "$out/var/lib/firezoned" "$out/var/log/firezoned" "$out/root"
install -d -m 0755 "$out/run" "$out/run/secrets"
ln -s ../run "$out/var/run"
install -d -m 1777 "$out/tmp"
