// An AF_NETLINK datagram socket driven through libc. Calls block, but never for long: SO_RCVTIMEO
// bounds every receive, so a reply the kernel never sends becomes an error instead of a hang.
import { ptr } from "bun:ffi";
import { errno, libc } from "./_libc.ts";
import { check } from "./check.ts";
import { sysError } from "./errno.ts";

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_RCVBUF = 8;
const SO_SNDBUF = 7;
const SO_RCVTIMEO = 20;
const SOL_NETLINK = 270;
const NETLINK_CAP_ACK = 10;
const NETLINK_EXT_ACK = 11;
const NETLINK_ADD_MEMBERSHIP = 1;
const SOCK_NONBLOCK = 0o4000;
const MSG_TRUNC = 0x20;
const EINTR = 4;
const EAGAIN = 11;

export const NETLINK_ROUTE = 0;
export const NETLINK_GENERIC = 16;

export interface NetlinkSocketOptions {
  /** How long one receive may wait for the kernel. Default 5000 ms. */
  timeoutMs?: number;
  /** Receive buffer for one datagram; dumps arrive in datagrams of at most a few pages. */
  bufferSize?: number;
  /**
   * Multicast groups to join (RTNLGRP_* numbers): the socket then receives the kernel's change
   * notifications. Such a socket is non-blocking, for a reader that waits on readiness.
   */
  groups?: readonly number[];
  /** The kernel's receive buffer (SO_RCVBUF, capped by net.core.rmem_max). Default 1 MiB. */
  receiveBufferBytes?: number;
}

/** One netlink socket bound to a kernel-assigned port id; `send` goes to the kernel (port 0). */
export class NetlinkSocket {
  readonly fd: number;
  readonly protocol: number;
  readonly portId: number;
  readonly #buf: Uint8Array;
  readonly #kernel: Buffer;
  #closed = false;

  constructor(protocol: number, options: NetlinkSocketOptions = {}) {
    this.protocol = protocol;
    this.#buf = new Uint8Array(options.bufferSize ?? 1 << 17);
    const nonBlocking = options.groups?.length ? SOCK_NONBLOCK : 0;
    this.fd = check(
      "socket(AF_NETLINK)",
      libc.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | nonBlocking, protocol),
    );
    try {
      const ms = options.timeoutMs ?? 5000;
      const tv = new BigInt64Array([BigInt(Math.floor(ms / 1000)), BigInt((ms % 1000) * 1000)]);
      check("setsockopt(SO_RCVTIMEO)", libc.setsockopt(this.fd, SOL_SOCKET, SO_RCVTIMEO, ptr(tv), 16));
      const size = new Int32Array([1 << 20]);
      const receive = new Int32Array([options.receiveBufferBytes ?? 1 << 20]);
      libc.setsockopt(this.fd, SOL_SOCKET, SO_RCVBUF, ptr(receive), 4);
      libc.setsockopt(this.fd, SOL_SOCKET, SO_SNDBUF, ptr(size), 4);
      // Extended acks carry the kernel's own words ("Nexthop device is not up"); capped acks keep
      // error replies small. Both are optional: old kernels simply refuse the option.
      const one = new Int32Array([1]);
      libc.setsockopt(this.fd, SOL_NETLINK, NETLINK_EXT_ACK, ptr(one), 4);
      libc.setsockopt(this.fd, SOL_NETLINK, NETLINK_CAP_ACK, ptr(one), 4);
      const addr = sockaddrNl(0);
      check("bind(AF_NETLINK)", libc.bind(this.fd, ptr(addr), addr.length));
      const len = new Uint32Array([addr.length]);
      check("getsockname(AF_NETLINK)", libc.getsockname(this.fd, ptr(addr), ptr(len)));
      this.portId = addr.readUInt32LE(4);
      for (const group of options.groups ?? []) {
        const g = new Int32Array([group]);
        check(
          "setsockopt(NETLINK_ADD_MEMBERSHIP)",
          libc.setsockopt(this.fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, ptr(g), 4),
        );
      }
      this.#kernel = sockaddrNl(0);
    } catch (e) {
      libc.close(this.fd);
      throw e;
    }
  }

  /** Sends one datagram (one or more netlink messages) to the kernel. */
  send(data: Uint8Array): void {
    for (;;) {
      const n = libc.sendto(this.fd, ptr(data), data.length, 0, ptr(this.#kernel), this.#kernel.length);
      if (n >= 0) return;
      const e = errno();
      if (e !== EINTR) throw sysError("sendto(AF_NETLINK)", e);
    }
  }

  /**
   * Receives one datagram; the returned view is valid until the next call. Throws WouldBlockError
   * (EAGAIN) when nothing arrived within the timeout.
   */
  recv(): Uint8Array {
    for (;;) {
      const n = libc.recvfrom(this.fd, ptr(this.#buf), this.#buf.length, MSG_TRUNC, null, null);
      if (n > this.#buf.length)
        throw sysError("recvfrom(AF_NETLINK)", 90, `datagram of ${n} bytes truncated`);
      if (n >= 0) return this.#buf.subarray(0, n);
      const e = errno();
      if (e === EINTR) continue;
      throw sysError(
        "recvfrom(AF_NETLINK)",
        e,
        e === EAGAIN ? "no reply from the kernel in time" : undefined,
      );
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    libc.close(this.fd);
  }
}

/** struct sockaddr_nl: family, pad, port id, multicast groups. */
function sockaddrNl(pid: number): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt16LE(AF_NETLINK, 0);
  b.writeUInt32LE(pid, 4);
  return b;
}
