# Helpers for the VM test cases (sourced by run.sh; POSIX sh).
# check NAME CMD...: runs CMD, records "ok NAME" or "not ok NAME: <last output line>".
check() {
  name=$1
  shift
  echo "--- $name"
  if out=$("$@" 2>&1); then
    echo "ok $name" >>"$OUT/results.txt"
    printf '%s\n' "$out"
  else
    rc=$?
    printf '%s\n' "$out"
    last=$(printf '%s\n' "$out" | tail -n 1)
    echo "not ok $name: exit $rc: $last" >>"$OUT/results.txt"
  fi
}

# note TEXT: a line shown with the results that is neither a pass nor a failure.
note() {
  echo "# $*" >>"$OUT/results.txt"
}
