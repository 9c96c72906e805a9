// Address helpers for the devstack: validate and normalize resource addresses, and turn a pool index
// into the client/gateway tunnel addresses (100.64.0.0/11 and fd00:2021:1111::/107).
import { isIPv4, isIPv6 } from "node:net";
// lib/dns/pattern.ts itself, not lib/dns/index.ts: the index loads the D-Bus client (dbus-next),
// which the devstack does not need and the VM guest does not have.
import { parseDnsPattern } from "../../lib/dns/pattern.ts";

export const TUNNEL_IPV4_POOL = "100.64.0.0/11";
export const TUNNEL_IPV6_POOL = "fd00:2021:1111::/107";
const IPV4_BASE = (100 << 24) | (64 << 16);
const POOL_SIZE = 2 ** 21;

function ipv4ToInt(ip: string): number {
  return ip.split(".").reduce((acc, part) => acc * 256 + Number(part), 0);
}

function intToIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

function ipv6ToBigInt(ip: string): bigint {
  const [head, tail] = ip.includes("::") ? ip.split("::") : [ip, undefined];
  const h = head ? head.split(":") : [];
  const t = tail !== undefined && tail !== "" ? tail.split(":") : [];
  // An embedded IPv4 tail (::ffff:1.2.3.4) counts as two groups.
  const expand = (groups: string[]) =>
    groups.flatMap((g) => {
      if (!g.includes(".")) return [g];
      const n = ipv4ToInt(g);
      return [(n >>> 16).toString(16), (n & 0xffff).toString(16)];
    });
  const hh = expand(h);
  const tt = expand(t);
  const groups = tail === undefined ? hh : [...hh, ...Array(8 - hh.length - tt.length).fill("0"), ...tt];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(Number.parseInt(g, 16)), 0n);
}

function bigIntToIpv6(n: bigint): string {
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(((n >> BigInt(i * 16)) & 0xffffn).toString(16));
  // Compress the longest run of zero groups, as inet_ntop does.
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== "0") {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === "0") j++;
    if (j - i > bestLen && j - i > 1) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(":");
  return `${groups.slice(0, best).join(":")}::${groups.slice(best + bestLen).join(":")}`;
}

/** The tunnel addresses for pool slot `index` (1-based; 0 is the network address). */
export function tunnelAddresses(index: number): { ipv4: string; ipv6: string } {
  if (!Number.isInteger(index) || index < 1 || index >= POOL_SIZE - 1)
    throw new Error("tunnel address pool exhausted");
  return {
    ipv4: intToIpv4((IPV4_BASE + index) >>> 0),
    ipv6: bigIntToIpv6(ipv6ToBigInt("fd00:2021:1111::") + BigInt(index)),
  };
}

/**
 * Checks a resource address and returns it normalized: `ip` -> the address itself; `cidr` -> the
 * network with host bits cleared. Throws an Error a person can act on.
 */
export function normalizeResourceAddress(type: "ip" | "cidr" | "internet" | "dns", address: string): string {
  const a = address.trim();
  if (type === "internet") {
    if (a !== "") throw new Error("an internet resource has no address: it stands for everything else");
    return "";
  }
  // A name pattern in its canonical form (lower case, punycode, no trailing dot); throws with the reason.
  if (type === "dns") return parseDnsPattern(a).text;
  if (type === "ip") {
    if (isIPv4(a)) return a;
    if (isIPv6(a)) return bigIntToIpv6(ipv6ToBigInt(a));
    throw new Error(`'${address}' is not an IPv4 or IPv6 address`);
  }
  const [ip, lenText, extra] = a.split("/");
  const len = Number(lenText);
  if (ip === undefined || extra !== undefined || lenText === undefined || !/^\d{1,3}$/.test(lenText)) {
    throw new Error(`'${address}' is not a CIDR range such as 10.0.0.0/24`);
  }
  if (isIPv4(ip) && len <= 32) {
    const mask = len === 0 ? 0 : (~0 << (32 - len)) >>> 0;
    return `${intToIpv4((ipv4ToInt(ip) & mask) >>> 0)}/${len}`;
  }
  if (isIPv6(ip) && len <= 128) {
    const mask = len === 0 ? 0n : ((1n << 128n) - 1n) ^ ((1n << BigInt(128 - len)) - 1n);
    return `${bigIntToIpv6(ipv6ToBigInt(ip) & mask)}/${len}`;
  }
  throw new Error(`'${address}' is not a CIDR range such as 10.0.0.0/24`);
}

/** Both default routes: what a client sends to the gateway of its Internet Resource. */
export const INTERNET_CIDRS = ["0.0.0.0/0", "::/0"] as const;

/**
 * Destinations that are not "the internet": private, shared, link-local, loopback, multicast and
 * reserved ranges. A gateway forwards an Internet Resource flow anywhere but here, so the Internet
 * Resource never opens the site's private networks, which only their own resources and policies do.
 */
export const NOT_INTERNET = {
  ip: [
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "224.0.0.0/4",
    "240.0.0.0/4",
  ],
  ip6: ["::/127", "::ffff:0:0/96", "fc00::/7", "fe80::/10", "ff00::/8"],
} as const;

/** The destinations a resource stands for, as CIDR strings (an `ip` becomes a /32 or /128). */
/** The destinations a resource routes; none for `dns` (the client routes its own proxy addresses). */
export function resourceCidrs(type: "ip" | "cidr" | "internet" | "dns", address: string): string[] {
  if (type === "dns") return [];
  if (type === "internet") return [...INTERNET_CIDRS];
  if (type === "cidr") return [address];
  return [isIPv4(address) ? `${address}/32` : `${address}/128`];
}

export function isIpv4Cidr(cidr: string): boolean {
  return isIPv4(cidr.split("/")[0] ?? "");
}
