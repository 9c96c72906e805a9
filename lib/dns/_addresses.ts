// Address helpers of the stub: comparing listen addresses, range checks for its own sentinels,
// and reading reverse (PTR) names back into addresses.
import { formatIp, parseIp } from "../util/index.ts";

export function sameAddress(a: string, b: string): boolean {
  const x = parseIp(a);
  return x !== null && formatIp(x.bytes) === b;
}

export function inRange(bytes: Uint8Array, cidr: string): boolean {
  const [net, len] = cidr.split("/");
  const n = parseIp(net!);
  if (!n || n.bytes.length !== bytes.length) return false;
  const prefix = Number(len);
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, prefix - i * 8));
    const mask = (0xff << (8 - keep)) & 0xff;
    if ((bytes[i]! & mask) !== (n.bytes[i]! & mask)) return false;
  }
  return true;
}

/** The address of a full-length reverse name ("1.0.96.100.in-addr.arpa", 32 nibbles of ip6.arpa), or null. */
export function reverseAddress(name: string): Uint8Array | null {
  if (name.endsWith(".in-addr.arpa")) {
    const parts = name.slice(0, -".in-addr.arpa".length).split(".");
    if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) < 256))
      return null;
    return Uint8Array.from(parts.reverse().map(Number));
  }
  if (name.endsWith(".ip6.arpa")) {
    const nibbles = name.slice(0, -".ip6.arpa".length).split(".");
    if (nibbles.length !== 32 || !nibbles.every((n) => /^[0-9a-f]$/.test(n))) return null;
    const hex = nibbles.reverse().join("");
    return Uint8Array.from({ length: 16 }, (_, i) => Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16));
  }
  return null;
}
