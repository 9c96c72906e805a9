#!/bin/sh
# The container's main process: checks what firezoned needs from `docker run`, then replaces itself
# with firezoned in the foreground. FIREZONE_TOKEN is a service-account token, or the path of a file
# holding one (Docker secrets: /run/secrets/<name>); firezoned reads it and drops it from its
# environment. With arguments, runs them instead (e.g. a shell for debugging).
# The image has no coreutils: only sh builtins and getent here.
set -eu

say() { printf 'firezone-entrypoint: %s\n' "$*" >&2; }
die() {
	say "error: $*"
	exit 78
}

if [ $# -gt 0 ]; then
	exec "$@"
fi

uid=
while read -r key value _; do
	if [ "$key" = "Uid:" ]; then
		uid=$value
		break
	fi
done </proc/self/status
[ "$uid" = 0 ] || die "firezoned must run as root inside the container (do not pass --user)."
[ -c /dev/net/tun ] ||
	die "/dev/net/tun is missing. Run the container with: --cap-add NET_ADMIN --device /dev/net/tun"

group=${FIREZONE_GROUP:-firezone}
getent group "$group" >/dev/null 2>&1 ||
	die "group '$group' does not exist in the image; rebuild it from the project's Dockerfile or set FIREZONE_GROUP."

if [ -z "${FIREZONE_API_URL:-}" ] && [ ! -f "${FIREZONE_CONFIG:-/etc/firezoned/firezoned.conf}" ]; then
	say "no portal configured: firezoned reports not_configured until you pass -e FIREZONE_API_URL=wss://<your portal> (or mount a firezoned.conf; see docs/configuration.md)"
fi

case ${FIREZONE_TOKEN:-} in
"")
	if [ ! -f "${FIREZONE_TOKEN_FILE:-/etc/firezoned/token}" ]; then
		say "no FIREZONE_TOKEN: starting without a service account; sign in with: docker exec -i <container> firezonectl sign-in --token-stdin"
	fi
	;;
/*)
	[ -r "$FIREZONE_TOKEN" ] ||
		die "FIREZONE_TOKEN names $FIREZONE_TOKEN, which is not a readable file. Mount the secret there (docker run --secret, or -v)."
	;;
esac

exec firezoned
