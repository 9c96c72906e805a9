// From the portal's connection details to the tunnel's configuration: one WireGuard peer per
// gateway, the union of its resources' allowed IPs, and the routes for them; and the smallest change
// that brings the device from what was applied last to that plan. A route is never wider than its
// resource, and never covers the host's own paths (gateway endpoints, the portal): those addresses
// are cut out of it, and every such decision comes back as a warning a person can read.
import type { ConnectionDetails } from "../portal/index.ts";
import { type Cidr, formatCidr, formatIp, networkOf, parseCidr, parseEndpoint } from "../util/index.ts";
import type { TunnelPeer } from "./tunnel_control.ts";

export interface TunnelPlan {
  peers: Map<string, TunnelPeer>;
  routes: string[];
  /** What was refused or narrowed, and why; shown in `firezonectl status` (at most MAX_WARNINGS). */
  warnings: string[];
  /** Every warning, for the log. */
  allWarnings: string[];
}

/** An address that must keep its direct path, and what it is ("the portal"). */
export interface ProtectedAddress {
  address: string;
  what: string;
}

export interface PlanOptions {
  /** Besides every gateway endpoint, which is always protected. */
  protect?: ProtectedAddress[];
}

/** What was applied last: public key -> a fingerprint of the peer's endpoint and allowed IPs. */
export type AppliedPeers = Map<string, string>;

const KEEPALIVE_SECONDS = 25;
/**
 * A CIDR resource may be at most this wide, in both families. Wider ones (0.0.0.0/0, the two /1
 * halves, ::/0, 2000::/3) would carry most of the host's Internet traffic: a full tunnel is the
 * Internet Resource's job, switched on by the user, never a side effect of a CIDR resource.
 */
export const MIN_RESOURCE_PREFIX = 8;
/** Status carries at most this many warnings (the last one counts the rest), so it stays small. */
export const MAX_WARNINGS = 20;

/** Whether `ip` lies inside `net`: the first `net.prefix` bits agree (no allocation: runs per route). */
const contains = (net: Cidr, ip: Cidr): boolean => {
  if (net.family !== ip.family) return false;
  const whole = net.prefix >> 3;
  for (let i = 0; i < whole; i++) if (net.bytes[i] !== ip.bytes[i]) return false;
  const rest = net.prefix & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((net.bytes[whole]! ^ ip.bytes[whole]!) & mask) === 0;
};

/** `net` minus the single address `ip` (inside it): one prefix per bit below `net`'s length. */
export function excludeAddress(net: Cidr, ip: Cidr): Cidr[] {
  const max = ip.family === 4 ? 32 : 128;
  const out: Cidr[] = [];
  for (let len = net.prefix + 1; len <= max; len++) {
    // The sibling of the ip's own prefix of this length: same bits above, the last bit flipped.
    const own = networkOf({ ...ip, prefix: len });
    const bytes = new Uint8Array(own.bytes);
    const bit = len - 1;
    bytes[bit >> 3] = bytes[bit >> 3]! ^ (0x80 >> (bit & 7));
    out.push({ family: ip.family, bytes, prefix: len });
  }
  return out;
}

interface Protected {
  ip: Cidr;
  text: string;
  what: string;
}

function protectedAddresses(details: ConnectionDetails[], extra: ProtectedAddress[]): Protected[] {
  const out = new Map<string, Protected>();
  const add = (bytes: Uint8Array, family: 4 | 6, what: string) => {
    const text = formatIp(bytes);
    if (!out.has(text)) out.set(text, { ip: { family, bytes, prefix: family === 4 ? 32 : 128 }, text, what });
  };
  for (const d of details) {
    try {
      const ep = parseEndpoint(d.gateway_endpoint);
      add(ep.bytes, ep.family, "a gateway's WireGuard endpoint");
    } catch {
      // Not an ip:port; the peer itself will fail to configure and say so.
    }
  }
  for (const p of extra) {
    try {
      const c = parseCidr(p.address);
      add(c.bytes, c.family, p.what);
    } catch {}
  }
  return [...out.values()];
}

/**
 * The routes for one resource CIDR: itself, or the pieces of it left once every protected address
 * inside it is cut out; with a warning for each cut or refusal.
 */
function routesFor(cidr: string, guard: Protected[], warnings: Set<string>): string[] | null {
  let net: Cidr;
  try {
    net = networkOf(parseCidr(cidr));
  } catch (e) {
    warnings.add(`A resource address was not routed: ${(e as Error).message}.`);
    return null;
  }
  const text = formatCidr(net);
  if (net.prefix < MIN_RESOURCE_PREFIX) {
    warnings.add(
      `Resource ${text} was not routed: a CIDR resource may be at most /${MIN_RESOURCE_PREFIX} wide, and this one would take over most of this host's Internet traffic. A full tunnel is the Internet Resource's job; ask the administrator to use it or a narrower CIDR.`,
    );
    return null;
  }
  let pieces = [net];
  for (const g of guard) {
    if (!contains(net, g.ip)) continue;
    if (net.prefix === g.ip.prefix) {
      warnings.add(
        `Resource ${text} was not routed: it is ${g.text}, ${g.what}, which must keep its direct path or the tunnel would cut itself off.`,
      );
      return null;
    }
    pieces = pieces.flatMap((p) => (contains(p, g.ip) ? excludeAddress(p, g.ip) : [p]));
    warnings.add(
      `Resource ${text} covers ${g.text}, ${g.what}: that address is left out of the tunnel's routes so it keeps its direct path.`,
    );
  }
  return pieces.map(formatCidr);
}

export function planTunnel(details: Iterable<ConnectionDetails>, options: PlanOptions = {}): TunnelPlan {
  const all = [...details];
  const guard = protectedAddresses(all, options.protect ?? []);
  const peers = new Map<string, TunnelPeer>();
  // Allowed IPs collect in a set per peer, turned into the peer's list once at the end: 20,000
  // resources behind one gateway stay linear.
  const allowed = new Map<string, Set<string>>();
  const routes = new Set<string>();
  const warnings = new Set<string>();
  for (const d of all) {
    const key = d.gateway_public_key;
    const peer = peers.get(key) ?? {
      publicKey: key,
      allowedIps: [],
      persistentKeepalive: KEEPALIVE_SECONDS,
      replaceAllowedIps: true,
    };
    peer.endpoint = d.gateway_endpoint;
    peers.set(key, peer);
    const ips = allowed.get(key) ?? new Set<string>();
    allowed.set(key, ips);
    for (const ip of d.allowed_ips) {
      const pieces = routesFor(ip, guard, warnings);
      if (!pieces) continue;
      ips.add(ip);
      for (const r of pieces) routes.add(r);
    }
  }
  for (const [key, ips] of allowed) peers.get(key)!.allowedIps = [...ips];
  const list = [...warnings];
  if (list.length > MAX_WARNINGS)
    list.splice(
      MAX_WARNINGS - 1,
      Infinity,
      `${list.length - MAX_WARNINGS + 1} more resource addresses were narrowed or refused in the same way; the daemon log lists each.`,
    );
  return { peers, routes: [...routes], warnings: list, allWarnings: [...warnings] };
}

function fingerprint(p: TunnelPeer): string {
  return JSON.stringify([p.endpoint, [...p.allowedIps].sort()]);
}

/**
 * Only peers that are new or changed, plus removals. Sending the whole set with "replace peers"
 * would drop every established WireGuard session and stall traffic until the next handshake.
 */
export function peerChanges(
  applied: AppliedPeers,
  peers: Map<string, TunnelPeer>,
): { changes: TunnelPeer[]; next: AppliedPeers } {
  const changes: TunnelPeer[] = [];
  const next: AppliedPeers = new Map();
  for (const [key, peer] of peers) {
    const f = fingerprint(peer);
    next.set(key, f);
    if (applied.get(key) !== f) changes.push(peer);
  }
  for (const key of applied.keys()) {
    if (!peers.has(key)) changes.push({ publicKey: key, allowedIps: [], remove: true });
  }
  return { changes, next };
}
