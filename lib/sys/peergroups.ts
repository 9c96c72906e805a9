// The supplementary groups of the process at the other end of a Unix socket, as the kernel recorded
// them at connect() time (SO_PEERGROUPS, Linux 4.13+). These are the groups the kernel itself used to
// check the socket's file mode, so they, not the group database, say what the process may reach.
import { ptr } from "bun:ffi";
import { errno, libc } from "./_libc.ts";
import { sysError } from "./errno.ts";

const SOL_SOCKET = 1;
const SO_PEERGROUPS = 59;
const ERANGE = 34;
/** The kernel's NGROUPS_MAX: no process can hold more. */
const NGROUPS_MAX = 65536;

/** SO_PEERGROUPS on a connected Unix socket fd: the peer's supplementary group ids. */
export function peerGroups(fd: number): number[] {
  let capacity = 32;
  for (;;) {
    const groups = new Uint32Array(capacity);
    const len = new Uint32Array([groups.byteLength]);
    if (libc.getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, ptr(groups), ptr(len)) === 0) {
      return Array.from(groups.subarray(0, Math.floor(len[0]! / 4)));
    }
    const e = errno();
    // ERANGE: the list did not fit, and the kernel wrote the size it needs into `len`.
    if (e !== ERANGE || capacity >= NGROUPS_MAX) throw sysError("getsockopt(SO_PEERGROUPS)", e);
    capacity = Math.min(NGROUPS_MAX, Math.max(Math.ceil(len[0]! / 4), capacity * 2));
  }
}
