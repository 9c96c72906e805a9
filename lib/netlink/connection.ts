// Request/response over one netlink socket: numbers each request, collects the replies that carry
// its sequence number, and ends at the ack, at NLMSG_DONE, or at a typed error.
import { NetlinkSocket, type NetlinkSocketOptions } from "../sys/index.ts";
import { NLM } from "./constants.ts";
import { decodeNetlinkError } from "./errors.ts";
import { type NlMessage, parseMessages, readI32 } from "./parse.ts";
import { NlWriter } from "./writer.ts";

export interface RequestOptions {
  /** NLM_F_DUMP: many replies ending in NLMSG_DONE. */
  dump?: boolean;
  /** Extra NLM_F_* flags (CREATE, REPLACE, EXCL...). */
  flags?: number;
  /** Named in errors: "add route 10.0.0.0/8". */
  operation?: string;
}

export class NetlinkConnection {
  readonly socket: NetlinkSocket;
  #seq = Math.floor(Math.random() * 0x7fffffff);

  constructor(protocol: number, options: NetlinkSocketOptions = {}) {
    this.socket = new NetlinkSocket(protocol, options);
  }

  nextSeq(): number {
    this.#seq = (this.#seq + 1) >>> 0;
    return this.#seq;
  }

  /**
   * Sends one request and returns its reply messages (without the final ack). `body` writes the
   * family header and attributes after the netlink header.
   */
  request(type: number, body: (w: NlWriter) => void, options: RequestOptions = {}): NlMessage[] {
    const seq = this.nextSeq();
    const flags = NLM.F_REQUEST | (options.dump ? NLM.F_DUMP : NLM.F_ACK) | (options.flags ?? 0);
    const w = new NlWriter().begin(type, flags, seq);
    body(w);
    return this.exchange(w.end().finish(), seq, options.operation ?? `message type ${type}`);
  }

  /** Sends prepared message bytes carrying `seq`; returns the replies up to the ack or NLMSG_DONE. */
  exchange(bytes: Uint8Array, seq: number, operation: string): NlMessage[] {
    this.socket.send(bytes);
    const replies: NlMessage[] = [];
    for (;;) {
      for (const m of parseMessages(this.socket.recv())) {
        // Replies to an earlier request that timed out are stale; skip them.
        if (m.seq !== seq || (m.portId !== this.socket.portId && m.portId !== 0)) continue;
        if (m.type === NLM.ERROR) {
          const err = decodeNetlinkError(operation, m.body, m.flags);
          if (err) throw err;
          return replies;
        }
        if (m.type === NLM.DONE) {
          const code = m.body.length >= 4 ? readI32(m.body, 0) : 0;
          const err = code < 0 ? decodeNetlinkError(operation, m.body, m.flags) : null;
          if (err) throw err;
          return replies;
        }
        if (m.type === NLM.NOOP || m.type === NLM.OVERRUN) continue;
        // A plain (non-dump) reply is followed by the ack every non-dump request asks for.
        replies.push(m);
      }
    }
  }

  close(): void {
    this.socket.close();
  }
}
