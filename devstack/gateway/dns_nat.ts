// The gateway's half of DNS resources: a client answers a resource name with a proxy address from
// 100.96.0.0/11 (or fd00:2021:1111:8000::/107) and sends its traffic there; the gateway resolves
// the real name itself and DNATs (client, proxy address) -> the name's current real address, in an
// nftables table of its own. Each name is resolved again when its TTL runs out (within bounds), and
// a changed address replaces the rule, so new connections follow the name; existing ones keep their
// conntrack entry.
// The modules themselves, not lib/dns/index.ts: the index loads the D-Bus client (dbus-next),
// which the gateway does not need (and the VM guest, which runs the gateway, does not have).
import { encodeMessage } from "../../lib/dns/encode.ts";
import { Forwarder, type Upstream } from "../../lib/dns/forwarder.ts";
import { CLASS_IN, parseMessage, TYPE } from "../../lib/dns/message.ts";
import { formatIp } from "../../lib/util/index.ts";
import { applyNft } from "./firewall.ts";

export const DNS_NAT_TABLE = "fz_gateway_dns";
/** Re-resolution bounds: a TTL of 0 does not make a busy loop, a TTL of a day does not pin an old address. */
export const MIN_REFRESH_S = 2;
export const MAX_REFRESH_S = 300;

export interface Resolved {
  v4: string[];
  v6: string[];
  ttl: number;
}

export type ResolveName = (name: string) => Promise<Resolved>;

/** Resolves through DNS servers (the gateway's own resolvers) with the client library's forwarder. */
export function dnsResolver(servers: readonly Upstream[]): { resolve: ResolveName; close(): void } {
  const forwarder = new Forwarder({ upstreams: servers, timeoutMs: 1000, attempts: 3 });
  const ask = async (name: string, type: number) => {
    const query = encodeMessage({
      header: { id: 0, flags: 0x0100 },
      questions: [{ name, type, class: CLASS_IN }],
    });
    const answer = await forwarder.forwardUdp(query);
    if (!answer) throw new Error(`no answer for ${name} from ${servers.map((s) => s.address).join(", ")}`);
    return parseMessage(answer).answers.filter((r) => r.type === type && r.address);
  };
  return {
    resolve: async (name) => {
      const [a, aaaa] = await Promise.all([ask(name, TYPE.A), ask(name, TYPE.AAAA)]);
      const all = [...a, ...aaaa];
      return {
        v4: a.map((r) => formatIp(r.address!)),
        v6: aaaa.map((r) => formatIp(r.address!)),
        ttl: all.length > 0 ? Math.min(...all.map((r) => r.ttl)) : MIN_REFRESH_S,
      };
    },
    close: () => forwarder.close(),
  };
}

export interface ProxyMapping {
  /** The client's tunnel addresses (the DNAT applies only to that client's traffic). */
  clientV4: string;
  clientV6: string;
  proxyV4: string;
  proxyV6: string;
  name: string;
}

interface Entry extends ProxyMapping {
  real: { v4: string | null; v6: string | null };
  timer: ReturnType<typeof setTimeout> | null;
}

const ADDR = /^[0-9a-fA-F.:]{2,45}$/;

/** The nft script for these mappings: one DNAT per (client, proxy address) that has a real address. */
export function renderDnsNat(entries: Iterable<Entry>): string {
  const rules: string[] = [];
  for (const e of entries) {
    for (const a of [e.clientV4, e.clientV6, e.proxyV4, e.proxyV6, e.real.v4 ?? "0.0.0.0", e.real.v6 ?? "::"])
      if (!ADDR.test(a)) throw new Error(`not an address: ${JSON.stringify(a)}`);
    if (e.real.v4) rules.push(`    ip saddr ${e.clientV4} ip daddr ${e.proxyV4} dnat ip to ${e.real.v4}`);
    if (e.real.v6) rules.push(`    ip6 saddr ${e.clientV6} ip6 daddr ${e.proxyV6} dnat ip6 to ${e.real.v6}`);
  }
  return `table inet ${DNS_NAT_TABLE} {}
delete table inet ${DNS_NAT_TABLE}
table inet ${DNS_NAT_TABLE} {
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
${rules.join("\n")}${rules.length ? "\n" : ""}  }
}
`;
}

export interface DnsNatOptions {
  resolve: ResolveName;
  /** Loads an nft script (tests may capture it); `nft -f -` by default. */
  apply?: (script: string) => Promise<void>;
  onError?: (message: string) => void;
  /** A mapping's real address changed (the gateway's filter allows real addresses, so it follows). */
  onChange?: () => void;
}

/** Keeps the DNAT table in step with the mappings and the names' current addresses. */
export class DnsNat {
  readonly #entries = new Map<string, Entry>();
  readonly #resolve: ResolveName;
  readonly #apply: (script: string) => Promise<void>;
  readonly #onError: (message: string) => void;
  readonly #onChange: () => void;
  #chain: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(options: DnsNatOptions) {
    this.#resolve = options.resolve;
    this.#apply = options.apply ?? applyNft;
    this.#onError = options.onError ?? (() => {});
    this.#onChange = options.onChange ?? (() => {});
  }

  /** Adds (or refreshes) a mapping; resolves once the rule for its current address is in place. */
  async add(m: ProxyMapping): Promise<void> {
    const key = `${m.clientV4}|${m.proxyV4}`;
    const old = this.#entries.get(key);
    if (old?.timer) clearTimeout(old.timer);
    const entry: Entry = { ...m, real: old?.real ?? { v4: null, v6: null }, timer: null };
    this.#entries.set(key, entry);
    await this.#refresh(entry);
  }

  async remove(clientV4: string, proxyV4: string): Promise<void> {
    const e = this.#entries.get(`${clientV4}|${proxyV4}`);
    if (!e) return;
    if (e.timer) clearTimeout(e.timer);
    this.#entries.delete(`${clientV4}|${proxyV4}`);
    await this.#write();
  }

  /** The real addresses a mapping points at now (for status and tests). */
  current(clientV4: string, proxyV4: string): { v4: string | null; v6: string | null } | null {
    return this.#entries.get(`${clientV4}|${proxyV4}`)?.real ?? null;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const e of this.#entries.values()) if (e.timer) clearTimeout(e.timer);
    this.#entries.clear();
    await this.#apply(`table inet ${DNS_NAT_TABLE} {}\ndelete table inet ${DNS_NAT_TABLE}\n`);
  }

  async #refresh(e: Entry): Promise<void> {
    let ttl = MIN_REFRESH_S;
    try {
      const r = await this.#resolve(e.name);
      ttl = r.ttl;
      const next = { v4: r.v4[0] ?? null, v6: r.v6[0] ?? null };
      if (next.v4 !== e.real.v4 || next.v6 !== e.real.v6) {
        e.real = next;
        await this.#write();
        try {
          this.#onChange();
        } catch (err) {
          this.#onError(`after an address change: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
    } catch (err) {
      // The last known address keeps working; the next try comes soon.
      this.#onError(`resolving ${e.name}: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (this.#stopped || !this.#entries.has(`${e.clientV4}|${e.proxyV4}`)) return;
    const seconds = Math.max(MIN_REFRESH_S, Math.min(MAX_REFRESH_S, ttl));
    e.timer = setTimeout(() => void this.#refresh(e), seconds * 1000);
  }

  /** Table rewrites run one at a time, each with the whole current set. */
  #write(): Promise<void> {
    this.#chain = this.#chain
      .then(() => (this.#stopped ? undefined : this.#apply(renderDnsNat(this.#entries.values()))))
      .catch((err) => this.#onError(`nft: ${err instanceof Error ? err.message : String(err)}`));
    return this.#chain;
  }
}
