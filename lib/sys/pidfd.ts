// Process file descriptors: a handle on one process that, unlike a pid, can never come to name
// another process after the first one exits.
import { ptr } from "bun:ffi";
import { closeSync, readlinkSync, statSync } from "node:fs";
import { errno, libc } from "./_libc.ts";

const SOL_SOCKET = 1;
const SO_PEERPIDFD = 77;
// Same numbers on x86_64 and aarch64 (both came after the syscall tables were unified).
const SYS_PIDFD_SEND_SIGNAL = 424;
const SYS_PIDFD_OPEN = 434;
const PATH_MAX = 4096;

/**
 * A pidfd for the process at the other end of a Unix socket. SO_PEERPIDFD (Linux 6.5+) names exactly
 * the process that connected. Older kernels get pidfd_open(pid) instead, which names whatever process
 * holds that pid now: right after accept that is the connecting process unless it already exited and
 * its pid was reused, which `peerExecutable` narrows further by checking the owner. Null when neither
 * works (the process is gone, or the kernel predates pidfds).
 */
export function peerPidfd(sockFd: number, pid: number): number | null {
  const out = new Int32Array(1);
  const len = new Uint32Array([4]);
  if (libc.getsockopt(sockFd, SOL_SOCKET, SO_PEERPIDFD, ptr(out), ptr(len)) === 0) return out[0]!;
  if (pid <= 0) return null;
  const fd = Number(libc.syscall(SYS_PIDFD_OPEN, pid, 0, 0, 0));
  return fd >= 0 ? fd : null;
}

/** Sends `signal` to exactly the process behind the pidfd; false when it has gone. */
export function pidfdSignal(pidfd: number, signal: number): boolean {
  return Number(libc.syscall(SYS_PIDFD_SEND_SIGNAL, pidfd, signal, 0, 0)) === 0;
}

/** Whether the process behind a pidfd is still running (it has not exited or been reaped). */
export function pidfdAlive(pidfd: number): boolean {
  if (Number(libc.syscall(SYS_PIDFD_SEND_SIGNAL, pidfd, 0, 0, 0)) === 0) return true;
  // EPERM means the process exists but we may not signal it: still alive.
  return errno() === 1;
}

/**
 * /proc/<pid>/exe of a socket's peer, read so that pid reuse cannot put another program's path in its
 * place: the pidfd is taken first, and the path counts only if that same process is still alive after
 * the read (a live process keeps its pid, so /proc/<pid> was that process all along) and /proc/<pid>
 * belongs to the uid the kernel recorded at connect. Null when the kernel does not let us read it:
 * another uid's exe needs ptrace access (CAP_SYS_PTRACE), and ProtectProc=invisible hides the process.
 */
export function peerExecutable(sockFd: number, pid: number, uid: number): string | null {
  const pidfd = peerPidfd(sockFd, pid);
  if (pidfd === null) return null;
  try {
    const exe = readlinkSync(`/proc/${pid}/exe`);
    if (exe.length > PATH_MAX) return null;
    if (statSync(`/proc/${pid}`).uid !== uid) return null;
    return pidfdAlive(pidfd) ? exe : null;
  } catch {
    return null;
  } finally {
    closeSync(pidfd);
  }
}
