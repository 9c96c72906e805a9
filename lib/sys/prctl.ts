// prctl(PR_SET_DUMPABLE): a process that holds secrets (service and sign-in tokens, WireGuard keys)
// writes no core dump, and other processes of the same uid without CAP_SYS_PTRACE cannot read its
// memory or /proc/<pid>/environ.
import { libc } from "./_libc.ts";
import { check } from "./check.ts";

const PR_GET_DUMPABLE = 3;
const PR_SET_DUMPABLE = 4;

export function setDumpable(dumpable: boolean): void {
  check("prctl(PR_SET_DUMPABLE)", libc.prctl(PR_SET_DUMPABLE, dumpable ? 1n : 0n, 0n, 0n, 0n));
}

export function isDumpable(): boolean {
  return check("prctl(PR_GET_DUMPABLE)", libc.prctl(PR_GET_DUMPABLE, 0n, 0n, 0n, 0n)) !== 0;
}
