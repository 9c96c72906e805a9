// A Unix stream socket driven by hand through libc, for clients that misbehave on purpose:
// it sends what it is told and reads only when asked (a subscriber that never reads).
import { ptr } from "bun:ffi";
import { check, libc, sockaddrUn } from "../../lib/sys/index.ts";

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_CLOEXEC = 0o2000000;
const MSG_NOSIGNAL = 0x4000;
const MSG_DONTWAIT = 0x40;

export class RawSocket {
  readonly fd: number;
  constructor(path: string) {
    this.fd = check("socket", libc.socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    const addr = sockaddrUn(path);
    check("connect", libc.connect(this.fd, ptr(addr), addr.length));
  }

  /** Sends all of `data` unless the socket would block; returns the bytes sent. */
  send(data: Uint8Array): number {
    const n = libc.sendto(this.fd, ptr(data), data.length, MSG_NOSIGNAL | MSG_DONTWAIT, null, 0);
    return Math.max(n, 0);
  }

  /** Reads until the peer closes or `timeoutMs` passes; returns the bytes and whether it closed. */
  async readUntilClosed(timeoutMs: number): Promise<{ data: Buffer; closed: boolean }> {
    const chunks: Buffer[] = [];
    const buf = Buffer.alloc(65536);
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      const n = libc.recvfrom(this.fd, ptr(buf), buf.length, MSG_DONTWAIT, null, null);
      if (n === 0) return { data: Buffer.concat(chunks), closed: true };
      if (n > 0) chunks.push(Buffer.from(buf.subarray(0, n)));
      else await Bun.sleep(10);
    }
    return { data: Buffer.concat(chunks), closed: false };
  }

  close(): void {
    libc.close(this.fd);
  }
}

/** Splits a byte stream into the JSON messages of its frames (test-side, trusting lengths). */
export function frames(data: Buffer): unknown[] {
  const out: unknown[] = [];
  let at = 0;
  while (at + 4 <= data.length) {
    const len = data.readUInt32BE(at);
    if (at + 4 + len > data.length) break;
    out.push(JSON.parse(data.subarray(at + 4, at + 4 + len).toString("utf8")));
    at += 4 + len;
  }
  return out;
}
