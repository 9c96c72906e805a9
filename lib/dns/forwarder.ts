// Forwarding queries for names that are not resources to the upstream resolvers. Each forwarded
// query gets a fresh random id and leaves from one of several sockets (random source ports); an
// answer is accepted only from the upstream asked, with that id and the same question. UDP tries
// the upstreams in order with a timeout each; TCP queries are forwarded over TCP.
import type { udp } from "bun";
import { type Logger, silentLogger } from "../util/index.ts";
import { HEADER_LENGTH, readQuestion } from "./message.ts";

export interface Upstream {
  /** Canonical IPv4 or IPv6 address text. */
  address: string;
  port: number;
}

export interface ForwarderOptions {
  upstreams: readonly Upstream[];
  /** Time to wait for one upstream before asking the next. */
  timeoutMs?: number;
  /** Attempts per query over all upstreams (the list is walked round-robin). */
  attempts?: number;
  /** Sockets per address family; more sockets, more source-port randomness. */
  sockets?: number;
  logger?: Logger;
}

interface Pending {
  key: number;
  upstream: Upstream;
  question: Uint8Array;
  originalId: number;
  timer: ReturnType<typeof setTimeout>;
  done: (response: Uint8Array | null) => void;
}

type UdpSock = udp.Socket<"uint8array">;

const randomId = () => (Math.random() * 0x10000) | 0;

export class Forwarder {
  #upstreams: readonly Upstream[];
  readonly #timeoutMs: number;
  readonly #attempts: number;
  readonly #socketCount: number;
  readonly #log: Logger;
  readonly #sockets: { 4: UdpSock[]; 6: UdpSock[] } = { 4: [], 6: [] };
  readonly #pending = new Map<number, Pending>();
  #closed = false;

  constructor(options: ForwarderOptions) {
    this.#upstreams = options.upstreams;
    this.#timeoutMs = options.timeoutMs ?? 1500;
    this.#attempts = Math.max(1, options.attempts ?? 3);
    this.#socketCount = Math.max(1, options.sockets ?? 4);
    this.#log = options.logger ?? silentLogger;
  }

  get upstreams(): readonly Upstream[] {
    return this.#upstreams;
  }

  setUpstreams(upstreams: readonly Upstream[]): void {
    this.#upstreams = upstreams;
  }

  get inFlight(): number {
    return this.#pending.size;
  }

  readonly #opening: { 4?: Promise<void>; 6?: Promise<void> } = {};

  async #socket(family: 4 | 6): Promise<{ sock: UdpSock; index: number }> {
    this.#opening[family] ??= this.#open(family);
    await this.#opening[family];
    const list = this.#sockets[family];
    const index = (Math.random() * list.length) | 0;
    return { sock: list[index]!, index };
  }

  async #open(family: 4 | 6): Promise<void> {
    const list: UdpSock[] = [];
    for (let index = 0; index < this.#socketCount; index++)
      list.push(
        await Bun.udpSocket({
          hostname: family === 4 ? "0.0.0.0" : "::",
          port: 0,
          binaryType: "uint8array",
          socket: {
            data: (_s, buf, port, addr) => this.#onAnswer(family, index, buf, port, addr),
            // ICMP errors from an upstream that is down arrive here; its queries time out and move on.
            error: (_s, e) => this.#log.debug("upstream socket error", { error: e }),
          },
        }),
      );
    this.#sockets[family] = list;
  }

  /**
   * Forwards one UDP query (the client's bytes); resolves with the upstream's answer carrying the
   * client's id, or null when no upstream answered in time. Never rejects.
   */
  async forwardUdp(query: Uint8Array): Promise<Uint8Array | null> {
    if (this.#upstreams.length === 0 || this.#closed) return null;
    const { end } = readQuestion(query, HEADER_LENGTH);
    const question = query.subarray(HEADER_LENGTH, end);
    const originalId = (query[0]! << 8) | query[1]!;
    const start = (Math.random() * this.#upstreams.length) | 0;
    for (let attempt = 0; attempt < this.#attempts && !this.#closed; attempt++) {
      const upstream = this.#upstreams[(start + attempt) % this.#upstreams.length]!;
      try {
        const answer = await this.#askUdp(query, question, originalId, upstream);
        if (answer) return answer;
      } catch (e) {
        this.#log.debug("upstream send failed", { upstream: upstream.address, error: e });
      }
    }
    return null;
  }

  async #askUdp(query: Uint8Array, question: Uint8Array, originalId: number, upstream: Upstream) {
    const family = upstream.address.includes(":") ? 6 : 4;
    const { sock, index } = await this.#socket(family);
    let id = randomId();
    let key = (family << 20) | (index << 16) | id;
    for (let tries = 0; this.#pending.has(key) && tries < 64; tries++) {
      id = randomId();
      key = (family << 20) | (index << 16) | id;
    }
    if (this.#pending.has(key)) return null;
    const out = query.slice();
    out[0] = id >> 8;
    out[1] = id & 0xff;
    return new Promise<Uint8Array | null>((resolve) => {
      const p: Pending = {
        key,
        upstream,
        question,
        originalId,
        timer: setTimeout(() => this.#finish(p, null), this.#timeoutMs),
        done: resolve,
      };
      this.#pending.set(key, p);
      let sent = false;
      try {
        sent = sock.send(out, upstream.port, upstream.address);
      } catch (e) {
        this.#log.debug("upstream send failed", { upstream: upstream.address, error: e });
      }
      if (!sent) this.#finish(p, null);
    });
  }

  #finish(p: Pending, answer: Uint8Array | null) {
    if (this.#pending.get(p.key) !== p) return;
    this.#pending.delete(p.key);
    clearTimeout(p.timer);
    p.done(answer);
  }

  #onAnswer(family: 4 | 6, index: number, buf: Uint8Array, port: number, addr: string) {
    if (buf.length < HEADER_LENGTH) return;
    const id = (buf[0]! << 8) | buf[1]!;
    const p = this.#pending.get((family << 20) | (index << 16) | id);
    if (!p || port !== p.upstream.port || stripV4Mapped(addr) !== p.upstream.address) return;
    if ((buf[2]! & 0x80) === 0 || !sameQuestion(buf, p.question)) return;
    const answer = buf.slice();
    answer[0] = p.originalId >> 8;
    answer[1] = p.originalId & 0xff;
    this.#finish(p, answer);
  }

  /** Forwards one TCP query over TCP to the upstreams in turn; null when none answered. */
  async forwardTcp(query: Uint8Array): Promise<Uint8Array | null> {
    if (this.#upstreams.length === 0 || this.#closed) return null;
    const { end } = readQuestion(query, HEADER_LENGTH);
    const question = query.subarray(HEADER_LENGTH, end);
    const originalId = (query[0]! << 8) | query[1]!;
    for (let attempt = 0; attempt < Math.min(this.#attempts, this.#upstreams.length + 1); attempt++) {
      const upstream = this.#upstreams[attempt % this.#upstreams.length]!;
      const answer = await this.#askTcp(query, question, upstream).catch(() => null);
      if (answer) {
        answer[0] = originalId >> 8;
        answer[1] = originalId & 0xff;
        return answer;
      }
    }
    return null;
  }

  #askTcp(query: Uint8Array, question: Uint8Array, upstream: Upstream): Promise<Uint8Array | null> {
    const id = randomId();
    const framed = new Uint8Array(2 + query.length);
    framed[0] = query.length >> 8;
    framed[1] = query.length & 0xff;
    framed.set(query, 2);
    framed[2] = id >> 8;
    framed[3] = id & 0xff;
    return new Promise((resolve) => {
      let buffered = new Uint8Array(0);
      let settled = false;
      let socket: { end(): void } | null = null;
      const finish = (answer: Uint8Array | null) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket?.end();
        resolve(answer);
      };
      const timer = setTimeout(() => finish(null), this.#timeoutMs * 2);
      Bun.connect({
        hostname: upstream.address,
        port: upstream.port,
        socket: {
          open: (s) => {
            socket = s;
            if (settled) s.end();
            else s.write(framed);
          },
          data: (_s, chunk) => {
            const next = new Uint8Array(buffered.length + chunk.length);
            next.set(buffered);
            next.set(chunk, buffered.length);
            buffered = next;
            if (buffered.length < 2) return;
            const len = (buffered[0]! << 8) | buffered[1]!;
            if (buffered.length < 2 + len) return;
            const answer = buffered.slice(2, 2 + len);
            const ok =
              answer.length >= HEADER_LENGTH &&
              ((answer[0]! << 8) | answer[1]!) === id &&
              (answer[2]! & 0x80) !== 0 &&
              sameQuestion(answer, question);
            finish(ok ? answer : null);
          },
          close: () => finish(null),
          error: () => finish(null),
          connectError: () => finish(null),
        },
      }).catch(() => finish(null));
    });
  }

  close(): void {
    this.#closed = true;
    for (const p of [...this.#pending.values()]) this.#finish(p, null);
    for (const s of [...this.#sockets[4], ...this.#sockets[6]]) s.close();
    this.#sockets[4] = [];
    this.#sockets[6] = [];
  }
}

function stripV4Mapped(addr: string): string {
  return addr.startsWith("::ffff:") && addr.includes(".") ? addr.slice(7) : addr;
}

/** The answer's question section equals the one we asked (ASCII case aside). */
function sameQuestion(answer: Uint8Array, question: Uint8Array): boolean {
  if (((answer[4]! << 8) | answer[5]!) !== 1) return false;
  if (answer.length < HEADER_LENGTH + question.length) return false;
  for (let i = 0; i < question.length; i++) {
    let a = answer[HEADER_LENGTH + i]!;
    let b = question[i]!;
    if (a >= 0x41 && a <= 0x5a) a += 0x20;
    if (b >= 0x41 && b <= 0x5a) b += 0x20;
    if (a !== b) return false;
  }
  return true;
}
