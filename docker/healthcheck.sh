#!/bin/sh
# The image's HEALTHCHECK: healthy (exit 0) only when firezoned answers on its socket and the
# session is connected. Signed out (a revoked or refused token), not configured, connecting or
# reconnecting are all unhealthy; the HEALTHCHECK's start period and retries are the grace while
# connecting (docs/docker.md). What it prints lands in `docker inspect`'s health log.
out=$(firezonectl status --json 2>&1) || {
	printf 'firezoned does not answer: %s\n' "$out"
	exit 1
}
# The top-level "state" of the pretty-printed JSON (two spaces in), not a nested one.
nl='
'
case $out in
*"$nl  \"state\": \"connected\""*)
	echo connected
	exit 0
	;;
esac
printf 'not connected: %s\n' "$out"
exit 1
