// The stub resolver inside firezoned. It listens on UDP and TCP at the addresses it is given, answers
// names that match a DNS resource with proxy addresses (after telling the daemon, through
// onResourceQuery, so the way to the resource is being prepared), and forwards every other name to
// the upstream resolvers. Bad input is dropped and counted; nothing here throws into the daemon.
import type { Socket, TCPSocketListener, udp } from "bun";
import { formatIp, type Logger, parseIp, silentLogger } from "../util/index.ts";
import { inRange, sameAddress } from "./_addresses.ts";
import { LocalAnswers } from "./_local_answers.ts";
import { sendFramed, TcpListeners, type TcpState } from "./_tcp_listeners.ts";
import { buildAnswer, truncateResponse } from "./encode.ts";
import { Forwarder, type Upstream } from "./forwarder.ts";
import { DnsFormatError, type DnsQuery, HEADER_LENGTH, parseQuery, RCODE, readQuestion } from "./message.ts";
import type { DnsResourceEntry } from "./pattern.ts";
import { ProxyIpAllocator } from "./proxy_ips.ts";
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

export class DnsStub {
  readonly #options: DnsStubOptions;
  readonly #limits: DnsStubLimits;
  readonly #log: Logger;
  readonly #proxy: ProxyIpAllocator;
  readonly #limiter: SourceRateLimiter;
  readonly #forwarder: Forwarder;
  readonly #local: LocalAnswers;
  readonly #tcpListeners: TcpListeners;
  #udp: UdpSock[] = [];
  #tcp: TCPSocketListener<TcpState>[] = [];
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
    this.#proxy = new ProxyIpAllocator(options.proxyIps);
    this.#limiter = new SourceRateLimiter({
      perSecond: this.#limits.perSourceQps,
      burst: this.#limits.perSourceBurst,
    });
    this.#local = new LocalAnswers({
      proxy: this.#proxy,
      resources: options.resources ?? [],
      ttl: options.ttl ?? 60,
      hookTimeoutMs: options.hookTimeoutMs ?? 3000,
      hook: options.onResourceQuery,
      log: this.#log,
      stats: this.#stats,
    });
    this.#forwarder = new Forwarder({
      upstreams: this.#safeUpstreams(options.upstreams ?? []),
      timeoutMs: options.upstreamTimeoutMs,
      attempts: options.upstreamAttempts,
      logger: this.#log,
    });
    this.#tcpListeners = new TcpListeners({
      limits: this.#limits,
      stats: this.#stats,
      log: this.#log,
      guard: (handle) => this.#guard(handle),
      onQuery: (s, msg) => this.#onTcpQuery(s, msg),
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
        this.#tcp.push(this.#tcpListeners.listen(l));
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
    this.#local.setResources(resources);
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
    const local = this.#local.answer(buf, query);
    if (local instanceof Promise)
      local.then(reply).catch((e) => this.#log.error("DNS answer failed", { error: e }));
    else if (local) reply(local);
    else this.#forward(buf.slice(), query.questionEnd, "udp", reply);
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
      if (answer) sendFramed(s, answer);
    };
    const local = this.#local.answer(msg, query);
    if (local instanceof Promise)
      local.then(reply).catch((e) => this.#log.error("DNS answer failed", { error: e }));
    else if (local) reply(local);
    else this.#forward(msg, query.questionEnd, "tcp", reply);
  }
}

function safeQuestionEnd(answer: Uint8Array): number {
  try {
    return readQuestion(answer, HEADER_LENGTH).end;
  } catch {
    return HEADER_LENGTH;
  }
}
