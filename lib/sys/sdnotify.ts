import { ptr } from "bun:ffi";
import { libc } from "./_libc.ts";
import { check } from "./check.ts";

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const MSG_NOSIGNAL = 0x4000;

/** struct sockaddr_un for a path; a leading '@' names the abstract namespace, as systemd does. */
export function sockaddrUn(path: string): Buffer {
  const name = Buffer.from(path.startsWith("@") ? `\0${path.slice(1)}` : path, "utf8");
  if (name.length > 107)
    throw new Error(`Unix socket path too long (${name.length} bytes, max 107): ${path}`);
  const addr = Buffer.alloc(2 + name.length + (path.startsWith("@") ? 0 : 1));
  addr.writeUInt16LE(AF_UNIX, 0);
  name.copy(addr, 2);
  return addr;
}

/**
 * Sends a state line ("READY=1", "STOPPING=1", "STATUS=...") to systemd's $NOTIFY_SOCKET.
 * Returns false when not running under a notify-type unit.
 */
export function sdNotify(state: string, socketPath: string | undefined = process.env.NOTIFY_SOCKET): boolean {
  if (!socketPath) return false;
  const addr = sockaddrUn(socketPath);
  const msg = Buffer.from(state, "utf8");
  const fd = check("socket(AF_UNIX)", libc.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  try {
    check(
      "sendto(NOTIFY_SOCKET)",
      libc.sendto(fd, ptr(msg), msg.length, MSG_NOSIGNAL, ptr(addr), addr.length),
    );
  } finally {
    libc.close(fd);
  }
  return true;
}
