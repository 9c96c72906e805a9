// The kernel's own change notifications for links, addresses and routes (rtnetlink multicast
// groups), read as they arrive: no polling, and no blocking read on the event loop (the socket is
// non-blocking and read through the runtime's readiness-driven stream).
import { NETLINK_ROUTE, NetlinkSocket } from "../sys/index.ts";
import { type Address, decodeAddress } from "./addresses.ts";
import { NLM, RTM } from "./constants.ts";
import { decodeLink, type Link } from "./links.ts";
import { type NlMessage, parseMessages } from "./parse.ts";
import { decodeRoute, type Route } from "./routes.ts";

/** The part of a stream reader the monitor uses. */
interface ChunkReader {
  read(): Promise<{ done: boolean; value?: Uint8Array | undefined }>;
  cancel(): Promise<void>;
}

/** rtnetlink multicast groups (linux/rtnetlink.h, enum rtnetlink_groups). */
export const RTNLGRP = {
  LINK: 1,
  IPV4_IFADDR: 5,
  IPV4_ROUTE: 7,
  IPV6_IFADDR: 9,
  IPV6_ROUTE: 11,
} as const;

/** IFF_LOWER_UP: the carrier is there (cable in, Wi-Fi associated, veth peer up). */
export const IFF_LOWER_UP = 0x10000;

/** One notification, decoded. `removed` is true for RTM_DEL*. */
export type NetlinkEvent =
  | { kind: "link"; removed: boolean; link: Link }
  | { kind: "address"; removed: boolean; address: Address }
  | {
      kind: "route";
      removed: boolean;
      /** An RTM_NEWROUTE that took another route's place (`ip route replace`): no RTM_DELROUTE comes for that one. */
      replaced?: boolean;
      route: Route;
    };

export interface NetlinkMonitorOptions {
  /** A batch of events, in the kernel's order (one read's worth). Should not throw. */
  onEvents: (events: NetlinkEvent[]) => void;
  /**
   * The kernel dropped notifications (the socket's buffer overflowed: ENOBUFS) or the socket
   * failed: the listener must assume anything may have changed. The monitor reopens itself.
   */
  onLost: (reason: string) => void;
  /** The groups to join; default links, and IPv4 and IPv6 addresses and routes. */
  groups?: readonly number[];
  /**
   * The socket's receive buffer in bytes (SO_RCVBUF); default 1 MiB, which the kernel caps at
   * net.core.rmem_max. A small one makes a burst overflow it (the tests' way to reach onLost).
   */
  receiveBufferBytes?: number;
}

const ALL_GROUPS = Object.values(RTNLGRP);
/** How long after a loss the socket is opened again, and how often while that fails. */
const REOPEN_MS = 100;
const RETRY_MS = 1000;

/** Decodes notifications; malformed or unknown messages are skipped. */
export function decodeEvents(messages: NlMessage[]): NetlinkEvent[] {
  const out: NetlinkEvent[] = [];
  for (const m of messages) {
    try {
      if (m.type === RTM.NEWLINK || m.type === RTM.DELLINK)
        out.push({ kind: "link", removed: m.type === RTM.DELLINK, link: decodeLink(m) });
      else if (m.type === RTM.NEWADDR || m.type === RTM.DELADDR) {
        const address = decodeAddress(m);
        if (address) out.push({ kind: "address", removed: m.type === RTM.DELADDR, address });
      } else if (m.type === RTM.NEWROUTE || m.type === RTM.DELROUTE) {
        const route = decodeRoute(m);
        if (route) {
          const removed = m.type === RTM.DELROUTE;
          out.push({ kind: "route", removed, replaced: !removed && (m.flags & NLM.F_REPLACE) !== 0, route });
        }
      }
    } catch {
      // A message this decoder cannot read is not worth stopping the monitor for.
    }
  }
  return out;
}

/** Watches the network namespace the process runs in until stop(). */
export class NetlinkMonitor {
  readonly #o: NetlinkMonitorOptions;
  #socket: NetlinkSocket | null = null;
  #reader: ChunkReader | null = null;
  #stopped = false;
  #pending = new Uint8Array(0);

  constructor(options: NetlinkMonitorOptions) {
    this.#o = options;
  }

  /** Joins the groups; throws if the socket cannot be opened (no netlink: a broken sandbox). */
  start(): void {
    this.#stopped = false;
    this.#open();
  }

  stop(): void {
    this.#stopped = true;
    this.#close();
  }

  #open(): void {
    const socket = new NetlinkSocket(NETLINK_ROUTE, {
      groups: this.#o.groups ?? ALL_GROUPS,
      ...(this.#o.receiveBufferBytes ? { receiveBufferBytes: this.#o.receiveBufferBytes } : {}),
    });
    this.#socket = socket;
    this.#pending = new Uint8Array(0);
    const reader = Bun.file(socket.fd).stream().getReader();
    this.#reader = reader;
    void this.#pump(socket, reader);
  }

  #close(): void {
    const reader = this.#reader;
    this.#reader = null;
    void reader?.cancel().catch(() => {});
    this.#socket?.close();
    this.#socket = null;
  }

  async #pump(socket: NetlinkSocket, reader: ChunkReader): Promise<void> {
    let reason = "the notification socket closed";
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done || !value || socket !== this.#socket) break;
        this.#take(value);
      }
    } catch (err) {
      reason = err instanceof Error ? err.message : String(err);
    }
    if (this.#stopped || socket !== this.#socket) return;
    // ENOBUFS (a burst larger than the buffer) ends the stream: start over with a new socket, then
    // tell the listener that notifications were lost, so it re-reads the state it cares about. In
    // that order: a re-read made before the new socket listens would miss what changes in between.
    this.#close();
    this.#reopen(reason);
  }

  /** A short pause first, so a burst still going on has a chance to end before the new socket. */
  #reopen(reason: string, failing = false): void {
    setTimeout(
      () => {
        if (this.#stopped || this.#socket) return;
        try {
          this.#open();
        } catch (err) {
          // Out of file descriptors or memory, for now: said once, then tried again every second.
          if (!failing) this.#lost(`cannot reopen the notification socket: ${(err as Error).message}`);
          this.#reopen(reason, true);
          return;
        }
        this.#lost(reason);
      },
      failing ? RETRY_MS : REOPEN_MS,
    );
  }

  #lost(reason: string): void {
    try {
      this.#o.onLost(reason);
    } catch {
      // The listener's problem; the monitor goes on.
    }
  }

  /** The runtime may join several datagrams into one chunk; messages are self-delimiting. */
  #take(chunk: Uint8Array): void {
    let buf = chunk;
    if (this.#pending.length) {
      buf = new Uint8Array(this.#pending.length + chunk.length);
      buf.set(this.#pending);
      buf.set(chunk, this.#pending.length);
    }
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    let end = 0;
    while (end + 16 <= buf.length) {
      const len = view.getUint32(end, true);
      if (len < 16) {
        end = buf.length;
        break;
      }
      if (end + len > buf.length) break;
      end += (len + 3) & ~3;
    }
    end = Math.min(end, buf.length);
    this.#pending = buf.slice(end);
    let messages: NlMessage[];
    try {
      messages = parseMessages(buf.subarray(0, end));
    } catch {
      messages = [];
    }
    const events = decodeEvents(messages);
    if (events.length === 0) return;
    try {
      this.#o.onEvents(events);
    } catch {
      // The listener's problem; the monitor goes on.
    }
  }
}
