// What the stub answers itself: names of DNS resources (proxy addresses, after the daemon's hook
// has had its chance to prepare the way), reverse lookups of proxy addresses, and protocol errors.
// Everything else is the forwarder's.
import { formatIp, type Logger } from "../util/index.ts";
import { reverseAddress } from "./_addresses.ts";
import { buildAnswer, encodeMessage, nameToWire, responseFlags, STUB_UDP_PAYLOAD } from "./encode.ts";
import { CLASS_IN, type DnsQuery, flagsOf, RCODE, TYPE } from "./message.ts";
import { type DnsResourceEntry, DnsResourceTable } from "./pattern.ts";
import { type ProxyIpAllocator, type ProxyIps, ProxyIpsExhaustedError } from "./proxy_ips.ts";
import type { DnsStubStats, ResourceQueryHook } from "./stub_options.ts";

export interface LocalAnswersOptions {
  proxy: ProxyIpAllocator;
  resources: readonly DnsResourceEntry[];
  ttl: number;
  hookTimeoutMs: number;
  hook: ResourceQueryHook | undefined;
  log: Logger;
  /** The stub's counters; resource answers are counted here. */
  stats: DnsStubStats;
}

export class LocalAnswers {
  #table: DnsResourceTable;
  readonly #hooks = new Map<string, Promise<void>>();

  constructor(private readonly opts: LocalAnswersOptions) {
    this.#table = new DnsResourceTable(opts.resources);
  }

  setResources(resources: readonly DnsResourceEntry[]): void {
    this.#table = new DnsResourceTable(resources);
  }

  /** Answers resources and protocol errors here; null means "forward it". */
  answer(raw: Uint8Array, query: DnsQuery): Uint8Array | Promise<Uint8Array> | null {
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
      this.opts.stats.resourceAnswers++;
      return buildAnswer(raw, query, RCODE.NOERROR, [], this.opts.ttl);
    }
    let ips: ProxyIps;
    try {
      ips = this.opts.proxy.get(q.name);
    } catch (e) {
      if (!(e instanceof ProxyIpsExhaustedError)) throw e;
      this.opts.log.warn(e.message, { name: q.name });
      return buildAnswer(raw, query, RCODE.SERVFAIL, [], 0);
    }
    this.opts.stats.resourceAnswers++;
    const answer = buildAnswer(
      raw,
      query,
      RCODE.NOERROR,
      [q.type === TYPE.A ? ips.v4 : ips.v6],
      this.opts.ttl,
    );
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
    if (!bytes || !this.opts.proxy.contains(bytes)) return null;
    const name = this.opts.proxy.nameOf(formatIp(bytes));
    const header = {
      id: query.id,
      flags: responseFlags(query.flags, name ? RCODE.NOERROR : RCODE.NXDOMAIN, true),
    };
    const answers =
      name && q.type === TYPE.PTR
        ? [{ name: q.name, type: TYPE.PTR, class: CLASS_IN, ttl: this.opts.ttl, data: nameToWire(name) }]
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
    const hook = this.opts.hook;
    if (!hook) return null;
    let pending: unknown;
    try {
      pending = hook(name, resourceId, ips);
    } catch (e) {
      this.opts.log.warn("resource query hook failed", { name, error: e });
      return null;
    }
    if (!(pending instanceof Promise)) return null;
    const waiting = new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.opts.log.warn("answering a DNS resource before its connection is ready", {
          name,
          waitedMs: this.opts.hookTimeoutMs,
        });
        resolve();
      }, this.opts.hookTimeoutMs);
      pending.then(
        () => {
          clearTimeout(timer);
          resolve();
        },
        (e: unknown) => {
          clearTimeout(timer);
          this.opts.log.warn("resource query hook failed", { name, error: e });
          resolve();
        },
      );
    }).finally(() => this.#hooks.delete(name));
    this.#hooks.set(name, waiting);
    return waiting;
  }
}
