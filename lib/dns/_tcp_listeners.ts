// The stub's TCP side (RFC 7766): two-byte length framing, a cap on open connections and on a
// query's size, idle timeouts, and replies queued in order for a slow reader.
import type { Socket, TCPSocketListener } from "bun";
import type { Logger } from "../util/index.ts";
import { HEADER_LENGTH } from "./message.ts";
import type { DnsStubLimits, DnsStubStats, ListenAddress } from "./stub_options.ts";

export interface TcpState {
  counted: boolean;
  buffered: Uint8Array;
  pending: number;
  source: string;
  queue: Uint8Array[];
}

export interface TcpListenOptions {
  limits: DnsStubLimits;
  stats: DnsStubStats;
  log: Logger;
  /** Wraps each packet's handling: a bug drops that packet, not the stub. */
  guard: (handle: () => void) => void;
  /** One whole query (without its length prefix) from `s`. */
  onQuery: (s: Socket<TcpState>, msg: Uint8Array) => void;
}

export class TcpListeners {
  #open = 0;

  constructor(private readonly opts: TcpListenOptions) {}

  listen(l: ListenAddress): TCPSocketListener<TcpState> {
    return Bun.listen<TcpState>({
      hostname: l.address,
      port: l.port,
      socket: {
        open: (s) => {
          if (this.#open >= this.opts.limits.maxTcpConnections) {
            this.opts.stats.dropped.tcpConnections++;
            s.data = {
              counted: false,
              buffered: new Uint8Array(0),
              pending: 0,
              source: s.remoteAddress,
              queue: [],
            };
            s.terminate();
            return;
          }
          this.#open++;
          s.data = {
            counted: true,
            buffered: new Uint8Array(0),
            pending: 0,
            source: s.remoteAddress,
            queue: [],
          };
          s.timeout(this.opts.limits.tcpIdleSeconds);
        },
        data: (s, chunk) => this.opts.guard(() => this.#onData(s, chunk)),
        drain: (s) => {
          flushQueue(s);
        },
        timeout: (s) => {
          s.end();
        },
        close: (s) => {
          if (s.data?.counted) this.#open--;
        },
        error: (_s, e) => this.opts.log.debug("DNS TCP connection error", { error: e }),
      },
    });
  }

  #onData(s: Socket<TcpState>, chunk: Uint8Array) {
    const st = s.data;
    const joined = new Uint8Array(st.buffered.length + chunk.length);
    joined.set(st.buffered);
    joined.set(chunk, st.buffered.length);
    let off = 0;
    while (joined.length - off >= 2) {
      const len = (joined[off]! << 8) | joined[off + 1]!;
      if (len > this.opts.limits.maxTcpQueryBytes || len < HEADER_LENGTH) {
        this.opts.stats.dropped.tcpOversized++;
        s.terminate();
        return;
      }
      if (joined.length - off < 2 + len) break;
      const msg = joined.slice(off + 2, off + 2 + len);
      off += 2 + len;
      this.opts.onQuery(s, msg);
    }
    st.buffered = joined.slice(off);
    if (st.buffered.length > this.opts.limits.maxTcpQueryBytes + 2) s.terminate();
  }
}

/** Queues `answer` with its length prefix and writes what the socket takes now; too long is dropped. */
export function sendFramed(s: Socket<TcpState>, answer: Uint8Array): void {
  if (answer.length > 0xffff) return;
  const framed = new Uint8Array(answer.length + 2);
  framed[0] = answer.length >> 8;
  framed[1] = answer.length & 0xff;
  framed.set(answer, 2);
  s.data.queue.push(framed);
  flushQueue(s);
}

function flushQueue(s: Socket<TcpState>) {
  const q = s.data.queue;
  while (q.length > 0) {
    const head = q[0]!;
    const n = s.write(head);
    if (n < 0) return;
    if (n < head.length) {
      q[0] = head.subarray(n);
      return;
    }
    q.shift();
  }
}
