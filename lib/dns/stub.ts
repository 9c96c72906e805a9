// The stub resolver inside firezoned. It listens on UDP and TCP at the addresses it is given, answers
// names that match a DNS resource with proxy addresses (after telling the daemon, through
// onResourceQuery, so the way to the resource is being prepared), and forwards every other name to
// the upstream resolvers. Bad input is dropped and counted; nothing here throws into the daemon.
import type { Socket, TCPSocketListener, udp } from "bun";
import { formatIp, type Logger, parseIp, silentLogger } from "../util/index.ts";
import { inRange, reverseAddress, sameAddress } from "./_addresses.ts";
import {
  buildAnswer,
  encodeMessage,
  nameToWire,
  responseFlags,
  STUB_UDP_PAYLOAD,
  truncateResponse,
} from "./encode.ts";
import { Forwarder, type Upstream } from "./forwarder.ts";
import {
  CLASS_IN,
  DnsFormatError,
  type DnsQuery,
  flagsOf,
  HEADER_LENGTH,
  parseQuery,
  RCODE,
  readQuestion,
  TYPE,
} from "./message.ts";
import { type DnsResourceEntry, DnsResourceTable } from "./pattern.ts";
import { ProxyIpAllocator, type ProxyIps, ProxyIpsExhaustedError } from "./proxy_ips.ts";
import { SourceRateLimiter } from "./rate_limit.ts";
import {
  DEFAULT_STUB_LIMITS,
  type DnsStubLimits,
  type DnsStubOptions,
  type DnsStubStats,
  type ListenAddress,
} from "./stub_options.ts";

// The sentinel ranges of our own stub: an upstream in them would be the stub asking itself.
const SELF_RANGES = ["100.100.111.0/24", "fd00:2021:1111:8000:100:100:111:0/120"];

type UdpSock = udp.Socket<"uint8array">;
interface TcpState {
  counted: boolean;
  buffered: Uint8Array;
  pending: number;
  source: string;
  queue: Uint8Array[];
}

export class DnsStub {
  readonly #options: DnsStubOptions;
  readonly #limits: DnsStubLimits;
  readonly #log: Logger;
  readonly #ttl: number;
  readonly #hookTimeoutMs: number;
  readonly #proxy: ProxyIpAllocator;
  readonly #limiter: SourceRateLimiter;
  readonly #forwarder: Forwarder;
  #table: DnsResourceTable;
  #udp: UdpSock[] = [];
  #tcp: TCPSocketListener<TcpState>[] = [];
  #tcpOpen = 0;
  readonly #hooks = new Map<string, Promise<void>>();
  #running = false;
  readonly #stats: DnsStubStats = {
    queries: 0,
    resourceAnswers: 0,
    forwarded: 0,
    upstreamFailures: 0,
    truncated: 0,
    dropped: { malformed: 0, rateLimited: 0, inFlight: 0, tcpOversized: 0, tcpConnections: 0 },
  };

  constructor(options: DnsStubOptions) {
    this.#options = options;
    this.#limits = { ...DEFAULT_STUB_LIMITS, ...options.limits };
    this.#log = options.logger ?? silentLogger;
    this.#ttl = options.ttl ?? 60;
    this.#hookTimeoutMs = options.hookTimeoutMs ?? 3000;
    this.#proxy = new ProxyIpAllocator(options.proxyIps);
    this.#limiter = new SourceRateLimiter({
      perSecond: this.#limits.perSourceQps,
      burst: this.#limits.perSourceBurst,
    });
    this.#table = new DnsResourceTable(options.resources ?? []);
    this.#forwarder = new Forwarder({
      upstreams: this.#safeUpstreams(options.upstreams ?? []),
      timeoutMs: options.upstreamTimeoutMs,
      attempts: options.upstreamAttempts,
      logger: this.#log,
    });
  }

  /** Binds every listen address (UDP and TCP); on any failure closes what was opened and throws. */
  async start(): Promise<void> {
    if (this.#running) return;
    try {
      for (const l of this.#options.listen) {
        this.#udp.push(
          await Bun.udpSocket({
            hostname: l.address,
            port: l.port,
            binaryType: "uint8array",
            socket: {
              data: (s, buf, port, addr) => this.#guard(() => this.#onUdp(s, buf, port, addr)),
              error: (_s, e) => this.#log.debug("DNS UDP socket error", { error: e }),
            },
          }),
        );
        this.#tcp.push(this.#listenTcp(l));
      }
      await this.#forwarder.open();
    } catch (e) {
      this.stop();
      throw new Error(`the DNS stub cannot listen: ${e instanceof Error ? e.message : String(e)}`, {
        cause: e,
      });
    }
    this.#running = true;
    this.#log.info("DNS stub listening", {
      on: this.#options.listen.map((l) => `${l.address}:${l.port}`).join(","),
      upstreams: this.#forwarder.upstreams.map((u) => `${u.address}:${u.port}`).join(","),
    });
  }

  /** Where the stub really listens (port 0 in options becomes the kernel's choice). */
  get addresses(): ListenAddress[] {
    return this.#udp.map((s) => ({ address: s.hostname, port: s.port }));
  }

  /** Ports of the TCP listeners, in the order of `addresses`. */
  get tcpPorts(): number[] {
    return this.#tcp.map((l) => l.port);
  }

  stop(): void {
    this.#running = false;
    for (const s of this.#udp) s.close();
    for (const l of this.#tcp) l.stop(true);
    this.#udp = [];
    this.#tcp = [];
    this.#forwarder.close();
  }

  /** Replaces the DNS resources; proxy addresses already given to names stay theirs. */
  setResources(resources: readonly DnsResourceEntry[]): void {
    this.#table = new DnsResourceTable(resources);
  }

  setUpstreams(upstreams: readonly Upstream[]): void {
    this.#forwarder.setUpstreams(this.#safeUpstreams(upstreams));
  }

  get upstreams(): readonly Upstream[] {
    return this.#forwarder.upstreams;
  }

  stats(): DnsStubStats {
    return { ...this.#stats, dropped: { ...this.#stats.dropped } };
  }

  /** The name a proxy address was given to in this session (canonical address text), or null. */
  nameOfProxyIp(address: string): string | null {
    return this.#proxy.nameOf(address);
  }

  #safeUpstreams(list: readonly Upstream[]): Upstream[] {
    const out: Upstream[] = [];
    for (const u of list) {
      const ip = parseIp(u.address);
      if (!ip || !(u.port > 0 && u.port < 65536)) {
        this.#log.warn("ignoring an upstream DNS server that is not an address", { upstream: u.address });
        continue;
      }
      const address = formatIp(ip.bytes);
      const self =
        SELF_RANGES.some((r) => inRange(ip.bytes, r)) ||
        this.#options.listen.some((l) => sameAddress(l.address, address) && l.port === u.port);
      if (self) {
        this.#log.warn("ignoring an upstream DNS server that is this stub itself (it would loop)", {
          upstream: address,
        });
        continue;
      }
      out.push({ address, port: u.port });
    }
    return out;
  }

  /** A bug in handling one packet is logged and that packet dropped; the stub keeps serving. */
  #guard(handle: () => void): void {
    try {
      handle();
    } catch (e) {
      this.#stats.dropped.malformed++;
      this.#log.error("DNS stub failed on one packet; dropped it", { error: e });
    }
  }

  #onUdp(sock: UdpSock, buf: Uint8Array, port: number, addr: string): void {
    this.#stats.queries++;
    if (!this.#limiter.allow(addr)) {
      this.#stats.dropped.rateLimited++;
      return;
    }
    let query: DnsQuery;
    try {
      query = parseQuery(buf);
    } catch (e) {
      this.#dropMalformed(e);
      return;
    }
    const limit = query.edns ? Math.min(4096, Math.max(512, query.edns.udpPayloadSize)) : 512;
    const reply = (answer: Uint8Array | null) => {
      if (!answer || !this.#running) return;
      if (answer.length > limit) {
        this.#stats.truncated++;
        answer = truncateResponse(answer, safeQuestionEnd(answer));
      }
      try {
        sock.send(answer, port, addr);
      } catch (e) {
        // A client that went away (ICMP unreachable queued on the socket) is its own problem.
        this.#log.debug("DNS reply not sent", { to: addr, error: e });
      }
    };
    const local = this.#answerLocally(buf, query);
    if (local instanceof Promise)
      local.then(reply).catch((e) => this.#log.error("DNS answer failed", { error: e }));
    else if (local) reply(local);
    else this.#forward(buf.slice(), query.questionEnd, "udp", reply);
  }

  /** Answers resources and protocol errors here; null means "forward it". */
  #answerLocally(raw: Uint8Array, query: DnsQuery): Uint8Array | Promise<Uint8Array> | null {
    if (flagsOf.opcode(query.flags) !== 0) return buildAnswer(raw, query, RCODE.NOTIMP, [], 0);
    if (query.edns && query.edns.version > 0) return buildAnswer(raw, query, RCODE.BADVERS, [], 0);
    const q = query.question;
    // A label with bytes outside host-name characters (shown as \DDD) is no resource's name: such a
    // name must not reach the hook, the portal or the gateway.
    if (q.class !== CLASS_IN || q.name.includes("\\")) return null;
    const reverse = this.#answerReverse(query);
    if (reverse) return reverse;
    const resourceId = this.#table.match(q.name);
    if (resourceId === null) return null;
    if (q.type !== TYPE.A && q.type !== TYPE.AAAA) {
      // Other types for a resource name get NOERROR with no records: they are not forwarded, so the
      // name never leaves the host, and HTTPS/SVCB records cannot hand out the real addresses.
      this.#stats.resourceAnswers++;
      return buildAnswer(raw, query, RCODE.NOERROR, [], this.#ttl);
    }
    let ips: ProxyIps;
    try {
      ips = this.#proxy.get(q.name);
    } catch (e) {
      if (!(e instanceof ProxyIpsExhaustedError)) throw e;
      this.#log.warn(e.message, { name: q.name });
      return buildAnswer(raw, query, RCODE.SERVFAIL, [], 0);
    }
    this.#stats.resourceAnswers++;
    const answer = buildAnswer(raw, query, RCODE.NOERROR, [q.type === TYPE.A ? ips.v4 : ips.v6], this.#ttl);
    const waiting = this.#hookFor(q.name, resourceId, ips);
    return waiting ? waiting.then(() => answer) : answer;
  }

  /**
   * Reverse lookups of proxy addresses are answered here and never forwarded: PTR to the name the
   * address was given to, NXDOMAIN for one not given out (upstreams know nothing of these ranges).
   */
  #answerReverse(query: DnsQuery): Uint8Array | null {
    const q = query.question;
    const bytes = reverseAddress(q.name);
    if (!bytes || !this.#proxy.contains(bytes)) return null;
    const name = this.#proxy.nameOf(formatIp(bytes));
    const header = {
      id: query.id,
      flags: responseFlags(query.flags, name ? RCODE.NOERROR : RCODE.NXDOMAIN, true),
    };
    const answers =
      name && q.type === TYPE.PTR
        ? [{ name: q.name, type: TYPE.PTR, class: CLASS_IN, ttl: this.#ttl, data: nameToWire(name) }]
        : [];
    return encodeMessage({
      header,
      questions: [q],
      answers,
      ...(query.edns ? { edns: { udpPayloadSize: STUB_UDP_PAYLOAD, dnssecOk: query.edns.dnssecOk } } : {}),
    });
  }

  /**
   * Runs the hook for `name`, or joins the run already under way for it, so a burst of queries for
   * one name costs the daemon one call. Resolves when the hook settles or after hookTimeoutMs;
   * never rejects. Null when there is nothing to wait for.
   */
  #hookFor(name: string, resourceId: string, ips: ProxyIps): Promise<void> | null {
    const running = this.#hooks.get(name);
    if (running) return running;
    const hook = this.#options.onResourceQuery;
    if (!hook) return null;
    let pending: unknown;
    try {
      pending = hook(name, resourceId, ips);
    } catch (e) {
      this.#log.warn("resource query hook failed", { name, error: e });
      return null;
    }
    if (!(pending instanceof Promise)) return null;
    const waiting = new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.#log.warn("answering a DNS resource before its connection is ready", {
          name,
          waitedMs: this.#hookTimeoutMs,
        });
        resolve();
      }, this.#hookTimeoutMs);
      pending.then(
        () => {
          clearTimeout(timer);
          resolve();
        },
        (e: unknown) => {
          clearTimeout(timer);
          this.#log.warn("resource query hook failed", { name, error: e });
          resolve();
        },
      );
    }).finally(() => this.#hooks.delete(name));
    this.#hooks.set(name, waiting);
    return waiting;
  }

  /** Forwards `raw` (taken over); `reply` gets the answer, SERVFAIL when none came, or null when dropped. */
  #forward(
    raw: Uint8Array,
    questionEnd: number,
    transport: "udp" | "tcp",
    reply: (answer: Uint8Array | null) => void,
  ): void {
    if (this.#forwarder.inFlight >= this.#limits.maxInFlight) {
      this.#stats.dropped.inFlight++;
      reply(null);
      return;
    }
    this.#stats.forwarded++;
    const originalId = (raw[0]! << 8) | raw[1]!;
    const done = (answer: Uint8Array | null) => {
      if (answer) {
        reply(answer);
        return;
      }
      this.#stats.upstreamFailures++;
      try {
        raw[0] = originalId >> 8;
        raw[1] = originalId & 0xff;
        reply(buildAnswer(raw, parseQuery(raw), RCODE.SERVFAIL, [], 0));
      } catch {
        reply(null);
      }
    };
    if (transport === "udp") this.#forwarder.forwardUdpThen(raw, questionEnd, done);
    else
      this.#forwarder
        .forwardTcp(raw)
        .then(done)
        .catch((e) => this.#log.error("DNS TCP forward failed", { error: e }));
  }

  #dropMalformed(e: unknown) {
    this.#stats.dropped.malformed++;
    if (!(e instanceof DnsFormatError))
      this.#log.error("unexpected error parsing a DNS packet", { error: e });
  }

  #listenTcp(l: ListenAddress): TCPSocketListener<TcpState> {
    return Bun.listen<TcpState>({
      hostname: l.address,
      port: l.port,
      socket: {
        open: (s) => {
          if (this.#tcpOpen >= this.#limits.maxTcpConnections) {
            this.#stats.dropped.tcpConnections++;
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
          this.#tcpOpen++;
          s.data = {
            counted: true,
            buffered: new Uint8Array(0),
            pending: 0,
            source: s.remoteAddress,
            queue: [],
          };
          s.timeout(this.#limits.tcpIdleSeconds);
        },
        data: (s, chunk) => this.#guard(() => this.#onTcpData(s, chunk)),
        drain: (s) => {
          flushQueue(s);
        },
        timeout: (s) => {
          s.end();
        },
        close: (s) => {
          if (s.data?.counted) this.#tcpOpen--;
        },
        error: (_s, e) => this.#log.debug("DNS TCP connection error", { error: e }),
      },
    });
  }

  #onTcpData(s: Socket<TcpState>, chunk: Uint8Array) {
    const st = s.data;
    const joined = new Uint8Array(st.buffered.length + chunk.length);
    joined.set(st.buffered);
    joined.set(chunk, st.buffered.length);
    let off = 0;
    while (joined.length - off >= 2) {
      const len = (joined[off]! << 8) | joined[off + 1]!;
      if (len > this.#limits.maxTcpQueryBytes || len < HEADER_LENGTH) {
        this.#stats.dropped.tcpOversized++;
        s.terminate();
        return;
      }
      if (joined.length - off < 2 + len) break;
      const msg = joined.slice(off + 2, off + 2 + len);
      off += 2 + len;
      this.#onTcpQuery(s, msg);
    }
    st.buffered = joined.slice(off);
    if (st.buffered.length > this.#limits.maxTcpQueryBytes + 2) s.terminate();
  }

  #onTcpQuery(s: Socket<TcpState>, msg: Uint8Array) {
    this.#stats.queries++;
    const st = s.data;
    if (!this.#limiter.allow(st.source)) {
      this.#stats.dropped.rateLimited++;
      return;
    }
    if (st.pending >= this.#limits.maxTcpPipeline) {
      this.#stats.dropped.inFlight++;
      return;
    }
    let query: DnsQuery;
    try {
      query = parseQuery(msg);
    } catch (e) {
      this.#dropMalformed(e);
      s.terminate();
      return;
    }
    st.pending++;
    const reply = (answer: Uint8Array | null) => {
      st.pending--;
      if (!answer || answer.length > 0xffff) return;
      const framed = new Uint8Array(answer.length + 2);
      framed[0] = answer.length >> 8;
      framed[1] = answer.length & 0xff;
      framed.set(answer, 2);
      st.queue.push(framed);
      flushQueue(s);
    };
    const local = this.#answerLocally(msg, query);
    if (local instanceof Promise)
      local.then(reply).catch((e) => this.#log.error("DNS answer failed", { error: e }));
    else if (local) reply(local);
    else this.#forward(msg, query.questionEnd, "tcp", reply);
  }
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

function safeQuestionEnd(answer: Uint8Array): number {
  try {
    return readQuestion(answer, HEADER_LENGTH).end;
  } catch {
    return HEADER_LENGTH;
  }
}
