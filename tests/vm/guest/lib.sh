# Helpers for the VM test cases (sourced by run.sh; POSIX sh).
# shellcheck shell=sh
T0=$(date +%s)

# check NAME CMD...: runs CMD in a subshell, records "ok NAME" or "not ok NAME: <last output line>".
# Output goes to guest.log; out/check.log holds the running check's output while it runs.
check() {
	name=$1
	shift
	if [ -s "$FZ/only.txt" ] && ! printf '%s\n' "$name" | grep -qiF -f "$FZ/only.txt"; then
		return 0
	fi
	echo "--- $name (t=$(($(date +%s) - T0))s)"
	("$@") >"$OUT/check.log" 2>&1
	rc=$?
	cat "$OUT/check.log"
	if [ $rc -eq 0 ]; then
		echo "ok $name" >>"$OUT/results.txt"
	else
		last=$(tail -n 1 "$OUT/check.log")
		echo "not ok $name: exit $rc: $last" >>"$OUT/results.txt"
	fi
}

# note TEXT: a line shown with the results that is neither a pass nor a failure.
note() {
	echo "# $*" >>"$OUT/results.txt"
}
