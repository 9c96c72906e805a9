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

/** One forwarded UDP query: the client's bytes (our id written in place) and where it stands. */
interface Pending {
  key: number;
  upstream: Upstream;
  query: Uint8Array;
  questionEnd: number;
  originalId: number;
  deadline: number;
  attempt: number;
  start: number;
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
  #sweeper: ReturnType<typeof setInterval> | null = null;

  /** Opens the sockets of both families ahead of the first query, so forwarding stays synchronous. */
  async open(): Promise<void> {
    await Promise.all([this.#ready(4), this.#ready(6).catch(() => {})]);
  }

  #ready(family: 4 | 6): Promise<void> {
    this.#opening[family] ??= this.#open(family);
    return this.#opening[family];
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
   * Forwards one UDP query; resolves with the upstream's answer carrying the client's id, or null
   * when no upstream answered in time. Never rejects. `query` is taken over (its id is rewritten).
   */
  forwardUdp(query: Uint8Array): Promise<Uint8Array | null> {
    return new Promise((resolve) =>
      this.forwardUdpThen(query, readQuestion(query, HEADER_LENGTH).end, resolve),
    );
  }

  /** forwardUdp with a callback and the question's end already known: the stub's hot path. */
  forwardUdpThen(query: Uint8Array, questionEnd: number, done: (answer: Uint8Array | null) => void): void {
    if (this.#upstreams.length === 0 || this.#closed) {
      done(null);
      return;
    }
    const p: Pending = {
      key: -1,
      upstream: this.#upstreams[0]!,
      query,
      questionEnd,
      originalId: (query[0]! << 8) | query[1]!,
      deadline: 0,
      attempt: 0,
      start: (Math.random() * this.#upstreams.length) | 0,
      done,
    };
    this.#attemptUdp(p);
  }

  /** Sends the next attempt of `p`, or finishes it with null when attempts or upstreams run out. */
  #attemptUdp(p: Pending): void {
    while (p.attempt < this.#attempts && !this.#closed && this.#upstreams.length > 0) {
      const upstream = this.#upstreams[(p.start + p.attempt++) % this.#upstreams.length]!;
      const family = upstream.address.includes(":") ? 6 : 4;
      const list = this.#sockets[family];
      if (list.length === 0) {
        // Sockets not open yet (first query): open them, then try this attempt again.
        p.attempt--;
        this.#ready(family)
          .then(
            () => this.#attemptUdp(p),
            () => {
              p.attempt++;
              this.#attemptUdp(p);
            },
          )
          .catch((e) => this.#log.error("DNS forward failed", { error: e }));
        return;
      }
      const index = (Math.random() * list.length) | 0;
      let id = randomId();
      let key = (family << 20) | (index << 16) | id;
      for (let tries = 0; this.#pending.has(key) && tries < 64; tries++) {
        id = randomId();
        key = (family << 20) | (index << 16) | id;
      }
      if (this.#pending.has(key)) continue;
      p.query[0] = id >> 8;
      p.query[1] = id & 0xff;
      p.key = key;
      p.upstream = upstream;
      p.deadline = performance.now() + this.#timeoutMs;
      let sent = false;
      try {
        sent = list[index]!.send(p.query, upstream.port, upstream.address);
      } catch (e) {
        this.#log.debug("upstream send failed", { upstream: upstream.address, error: e });
      }
      if (!sent) continue;
      this.#pending.set(key, p);
      this.#sweeper ??= setInterval(() => this.#sweep(), Math.max(10, Math.min(100, this.#timeoutMs / 4)));
      return;
    }
    p.done(null);
  }

  /** Timeouts, checked a few times per timeout period instead of one timer per query. */
  #sweep(): void {
    const now = performance.now();
    for (const p of this.#pending.values())
      if (p.deadline <= now) {
        this.#pending.delete(p.key);
        this.#attemptUdp(p);
      }
    if (this.#pending.size === 0 && this.#sweeper) {
      clearInterval(this.#sweeper);
      this.#sweeper = null;
    }
  }

  #onAnswer(family: 4 | 6, index: number, buf: Uint8Array, port: number, addr: string) {
    if (buf.length < HEADER_LENGTH) return;
    const id = (buf[0]! << 8) | buf[1]!;
    const p = this.#pending.get((family << 20) | (index << 16) | id);
    if (!p || port !== p.upstream.port || stripV4Mapped(addr) !== p.upstream.address) return;
    if ((buf[2]! & 0x80) === 0 || !sameQuestion(buf, p.query, p.questionEnd)) return;
    this.#pending.delete(p.key);
    // Rewritten in place, not copied: every `done` uses or copies the bytes before returning.
    buf[0] = p.originalId >> 8;
    buf[1] = p.originalId & 0xff;
    p.done(buf);
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
              sameQuestion(answer, query, HEADER_LENGTH + question.length);
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
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) p.done(null);
    if (this.#sweeper) clearInterval(this.#sweeper);
    this.#sweeper = null;
    for (const s of [...this.#sockets[4], ...this.#sockets[6]]) s.close();
    this.#sockets[4] = [];
    this.#sockets[6] = [];
  }
}

function stripV4Mapped(addr: string): string {
  return addr.startsWith("::ffff:") && addr.includes(".") ? addr.slice(7) : addr;
}

/** The answer's question section equals the query's (bytes 12..questionEnd), ASCII case aside. */
function sameQuestion(answer: Uint8Array, query: Uint8Array, questionEnd: number): boolean {
  if (((answer[4]! << 8) | answer[5]!) !== 1) return false;
  if (answer.length < questionEnd) return false;
  for (let i = HEADER_LENGTH; i < questionEnd; i++) {
    let a = answer[i]!;
    let b = query[i]!;
    if (a === b) continue;
    if (a >= 0x41 && a <= 0x5a) a += 0x20;
    if (b >= 0x41 && b <= 0x5a) b += 0x20;
    if (a !== b) return false;
  }
  return true;
}
