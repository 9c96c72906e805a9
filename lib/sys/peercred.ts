import { ptr } from "bun:ffi";
import { libc } from "./_libc.ts";
import { check } from "./check.ts";

const SOL_SOCKET = 1;
const SO_PEERCRED = 17;

/** The process at the other end of a Unix socket, as the kernel recorded it at connect() time. */
export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
}

/** SO_PEERCRED on a connected Unix socket fd. */
export function peerCredentials(fd: number): PeerCredentials {
  const cred = new Uint32Array(3);
  const len = new Uint32Array([12]);
  check("getsockopt(SO_PEERCRED)", libc.getsockopt(fd, SOL_SOCKET, SO_PEERCRED, ptr(cred), ptr(len)));
  return { pid: cred[0]!, uid: cred[1]!, gid: cred[2]! };
}
