// Typed network values, after Tailscale's netip: an address, a prefix and an `ip:port` endpoint are
// parsed once where they enter the process and travel inward as branded canonical strings. The brand
// says "this came out of the parser", so code further in never re-validates, and the canonical form
// (RFC 5952 for IPv6, host bits cleared for prefixes) makes equal values compare equal as strings and
// serialize as themselves in JSON. Only these parsers make one (and the pool constants below).
import { type Cidr, formatCidr, formatEndpoint, formatIp, networkOf, parseCidr, parseIp } from "./cidr.ts";

declare const brand: unique symbol;
type Brand<T, B extends string> = T & { readonly [brand]: B };

/** One IPv4 or IPv6 address, canonical text ("10.0.0.1", "fd00::1"). */
export type IpAddr = Brand<string, "IpAddr">;
/** A network, host bits cleared ("10.0.0.0/8", "fd00::/64"). */
export type IpPrefix = Brand<string, "IpPrefix">;
/** A WireGuard endpoint "1.2.3.4:51820" or "[fd00::1]:51820". */
export type Endpoint = Brand<string, "Endpoint">;

// Longest legal texts: an IPv6 address with an embedded IPv4 tail is 45 characters; a prefix adds
// "/128"; an endpoint adds brackets and ":65535". Anything longer is refused before it is scanned.
const MAX_ADDR = 45;

/** Parses one address; throws an Error naming the text (shown quoted, control characters escaped). */
export function parseIpAddr(text: string): IpAddr {
  const ip = text.length <= MAX_ADDR ? parseIp(text) : null;
  if (!ip) throw new Error(`not an IPv4 or IPv6 address: ${quote(text)}`);
  return formatIp(ip.bytes) as IpAddr;
}

/**
 * Parses "addr/len" into its network. A bare address is not accepted here: a prefix without a length
 * is ambiguous at a boundary.
 */
export function parseIpPrefix(text: string): IpPrefix {
  if (text.length > MAX_ADDR + 4 || !text.includes("/") || text.trim() !== text)
    throw new Error(`not a CIDR prefix "address/length": ${quote(text)}`);
  let c: Cidr;
  try {
    c = parseCidr(text);
  } catch {
    throw new Error(`not a CIDR prefix "address/length": ${quote(text)}`);
  }
  return formatCidr(networkOf(c)) as IpPrefix;
}

/** Parses "ip:port" (IPv6 in brackets); port 1-65535. */
export function parseEndpointValue(text: string): Endpoint {
  const m =
    text.length <= MAX_ADDR + 8
      ? (/^\[([^\]]+)\]:(\d{1,5})$/.exec(text) ?? /^([^:[\]]+):(\d{1,5})$/.exec(text))
      : null;
  const ip = m ? parseIp(m[1]!) : null;
  const port = m ? Number(m[2]) : -1;
  // "1.2.3.4" inside brackets, or a bare IPv6 without them, is not an endpoint form we accept.
  const bracketed = m?.[0].startsWith("[") ?? false;
  if (!ip || (ip.family === 6) !== bracketed || !(port > 0 && port < 65536))
    throw new Error(`not an endpoint "ip:port" (IPv6 as "[addr]:port"): ${quote(text)}`);
  return formatEndpoint(ip.bytes, port) as Endpoint;
}

/** Whether `ip` lies inside `prefix` (families must match). */
export function prefixContains(prefix: IpPrefix, ip: IpAddr): boolean {
  const p = parseCidr(prefix);
  const a = parseIp(ip);
  if (!a || a.family !== p.family) return false;
  const net = networkOf({ family: a.family, bytes: a.bytes, prefix: p.prefix });
  return formatCidr(net) === prefix;
}

/** The address pools DESIGN.md reserves for tunnel interfaces; a portal must assign from them. */
export const TUNNEL_POOL_V4 = "100.64.0.0/11" as IpPrefix;
export const TUNNEL_POOL_V6 = "fd00:2021:1111::/107" as IpPrefix;

function quote(text: string): string {
  const shown = text.length > 64 ? `${text.slice(0, 64)}...` : text;
  // JSON.stringify escapes C0 controls and quotes, so an error message never carries them raw.
  return JSON.stringify(shown).replace(
    /[\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}
