// Proxy addresses for DNS resources: each name gets one IPv4 address from 100.96.0.0/11 and one
// IPv6 address from fd00:2021:1111:8000::/107, the same for the whole session, so an application
// that cached an answer keeps reaching the same resource. Addresses are never reused within a
// session: a reused address could carry one name's connections to another name's resource.
import { type Cidr, formatIp, networkOf, parseCidr } from "../util/index.ts";

export const PROXY_V4_RANGE = "100.96.0.0/11";
export const PROXY_V6_RANGE = "fd00:2021:1111:8000::/107";
/** Names one session may hold; each costs two addresses and a few hundred bytes. */
export const DEFAULT_MAX_PROXY_NAMES = 65_536;

export interface ProxyIps {
  v4: Uint8Array;
  v6: Uint8Array;
}

export class ProxyIpsExhaustedError extends Error {
  constructor(limit: number) {
    super(
      `all ${limit} proxy addresses of this session are in use; new DNS resource names get SERVFAIL until the next sign-in.`,
    );
    this.name = "ProxyIpsExhaustedError";
  }
}

export interface ProxyIpAllocatorOptions {
  v4Range?: string;
  v6Range?: string;
  maxNames?: number;
}

/** Hands out proxy addresses per name, in order, from offset 1 of each range. */
export class ProxyIpAllocator {
  readonly #byName = new Map<string, ProxyIps>();
  readonly #byAddress = new Map<string, string>();
  readonly #v4: Cidr;
  readonly #v6: Cidr;
  readonly #limit: number;
  #next = 1;

  constructor(options: ProxyIpAllocatorOptions = {}) {
    this.#v4 = networkOf(parseCidr(options.v4Range ?? PROXY_V4_RANGE));
    this.#v6 = networkOf(parseCidr(options.v6Range ?? PROXY_V6_RANGE));
    if (this.#v4.family !== 4 || this.#v6.family !== 6)
      throw new Error("proxy ranges: one IPv4 and one IPv6 CIDR");
    // Offsets 1 .. size-2 of the smaller range: not the network address, not the last one.
    const hostBits = Math.min(32 - this.#v4.prefix, 128 - this.#v6.prefix, 30);
    this.#limit = Math.min(options.maxNames ?? DEFAULT_MAX_PROXY_NAMES, 2 ** hostBits - 2);
  }

  /** How many names this allocator can hold. */
  get capacity(): number {
    return this.#limit;
  }

  get size(): number {
    return this.#byName.size;
  }

  /** The addresses of `name` (canonical), allocating them on first use; throws ProxyIpsExhaustedError. */
  get(name: string): ProxyIps {
    const known = this.#byName.get(name);
    if (known) return known;
    if (this.#next > this.#limit) throw new ProxyIpsExhaustedError(this.#limit);
    const ips = { v4: withOffset(this.#v4, this.#next), v6: withOffset(this.#v6, this.#next) };
    this.#next++;
    this.#byName.set(name, ips);
    this.#byAddress.set(formatIp(ips.v4), name);
    this.#byAddress.set(formatIp(ips.v6), name);
    return ips;
  }

  /** True when `bytes` lies in one of the proxy ranges (given out or not). */
  contains(bytes: Uint8Array): boolean {
    const range = bytes.length === 4 ? this.#v4 : this.#v6;
    if (bytes.length !== range.bytes.length) return false;
    for (let i = 0; i < bytes.length; i++) {
      const keep = Math.max(0, Math.min(8, range.prefix - i * 8));
      const mask = (0xff << (8 - keep)) & 0xff;
      if ((bytes[i]! & mask) !== (range.bytes[i]! & mask)) return false;
    }
    return true;
  }

  /** The name a proxy address was given to (for PTR queries and the gateway's mapping), or null. */
  nameOf(address: string): string | null {
    return this.#byAddress.get(address) ?? null;
  }
}

function withOffset(range: Cidr, offset: number): Uint8Array {
  const out = new Uint8Array(range.bytes);
  let carry = offset;
  for (let i = out.length - 1; i >= 0 && carry > 0; i--) {
    const sum = out[i]! + (carry & 0xff);
    out[i] = sum & 0xff;
    carry = Math.floor(carry / 256) + (sum >> 8);
  }
  return out;
}
