// Many requests per sendmsg: each message keeps its own sequence number and ack, so every request
// still gets its own result, but the round trips into the kernel are shared. Adding 20,000 resource
// routes one request at a time costs a send, a receive and their JavaScript around each; batched,
// the daemon keeps pace with `ip -batch` (bench/routes.ts).

import type { NetlinkConnection } from "./connection.ts";
import { NLM } from "./constants.ts";
import { decodeNetlinkError } from "./errors.ts";
import { parseMessages } from "./parse.ts";
import { NlWriter } from "./writer.ts";

export interface BatchRequest {
  type: number;
  /** Extra NLM_F_* flags; REQUEST and ACK are always set. */
  flags?: number;
  body: (w: NlWriter) => void;
  /** Named in its error: "add route 10.0.0.0/8". */
  operation: string;
}

/**
 * How many requests go out in one datagram. Every ack waits in the socket's receive buffer until it
 * is read, so a batch must stay well inside it (an ack's buffer cost is about 1 KiB).
 */
const PER_SEND = 128;

/**
 * Sends the requests in batches and returns, in order, null for each that succeeded and the typed
 * error (lib/sys) for each the kernel refused. One refusal does not stop the others.
 */
export function requestBatch(conn: NetlinkConnection, requests: readonly BatchRequest[]): (Error | null)[] {
  const results: (Error | null)[] = new Array(requests.length).fill(null);
  for (let start = 0; start < requests.length; start += PER_SEND) {
    const end = Math.min(start + PER_SEND, requests.length);
    const w = new NlWriter();
    const index = new Map<number, number>();
    for (let i = start; i < end; i++) {
      const r = requests[i]!;
      const seq = conn.nextSeq();
      index.set(seq, i);
      w.begin(r.type, NLM.F_REQUEST | NLM.F_ACK | (r.flags ?? 0), seq);
      r.body(w);
      w.end();
    }
    conn.socket.send(w.finish());
    while (index.size > 0) {
      for (const m of parseMessages(conn.socket.recv())) {
        const i = index.get(m.seq);
        if (i === undefined || m.type !== NLM.ERROR) continue;
        if (m.portId !== conn.socket.portId && m.portId !== 0) continue;
        index.delete(m.seq);
        results[i] = decodeNetlinkError(requests[i]!.operation, m.body, m.flags);
      }
    }
  }
  return results;
}
