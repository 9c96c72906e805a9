// The Internet Resource's routes: both default routes through the tunnel, in a table of their own
// behind the resources' (docs/internet-resource.md), minus every address that must keep its direct
// path. A pure function, so what "on", "allow-LAN" and "not offered" mean is checked bit by bit.
import { type Cidr, formatCidr, networkOf, parseCidr } from "../util/index.ts";

export const DEFAULT_ROUTES = ["0.0.0.0/0", "::/0"] as const;

/**
 * Never through the tunnel, whatever allow-LAN says: link-local addresses mean something only on
 * their own link (an IPv4 fallback address, a cloud's metadata service at 169.254.169.254), and a
 * gateway could not reach this host's link anyway.
 */
export const ALWAYS_DIRECT = ["169.254.0.0/16", "fe80::/10"] as const;

export interface InternetPlanInput {
  /** The user's switch and its allow-LAN option. */
  enabled: boolean;
  allowLan: boolean;
  /** The portal offers this actor an Internet Resource now. */
  available: boolean;
  /** Addresses that keep their direct path (the portal's, every gateway endpoint), as IPs or CIDRs. */
  protect: readonly string[];
}

export interface InternetPlan {
  /** Whether the Internet Resource is in force: its routes and (with allowLan) the LAN rule go in. */
  active: boolean;
  /** Routes for the Internet Resource's table; empty when it is not in force. */
  routes: string[];
  /** Whether the host's specific routes (its LAN) are looked up before the Internet Resource's table. */
  allowLan: boolean;
}

const within = (outer: Cidr, inner: Cidr): boolean =>
  outer.family === inner.family &&
  outer.prefix <= inner.prefix &&
  formatCidr(networkOf({ ...inner, prefix: outer.prefix })) === formatCidr(outer);

/** `net` minus `hole` (which lies inside it): one prefix for every bit between their lengths. */
export function cutOut(net: Cidr, hole: Cidr): Cidr[] {
  const out: Cidr[] = [];
  for (let len = net.prefix + 1; len <= hole.prefix; len++) {
    // The sibling of the hole's own prefix of this length: same bits above, the last bit flipped.
    const own = networkOf({ ...hole, prefix: len });
    const bytes = new Uint8Array(own.bytes);
    const bit = len - 1;
    bytes[bit >> 3] = bytes[bit >> 3]! ^ (0x80 >> (bit & 7));
    out.push({ family: hole.family, bytes, prefix: len });
  }
  return out;
}

/** `nets` minus every hole, as the fewest prefixes that cut produces. */
export function subtract(nets: readonly string[], holes: readonly string[]): string[] {
  let pieces = nets.map((n) => networkOf(parseCidr(n)));
  for (const text of holes) {
    let hole: Cidr;
    try {
      hole = networkOf(parseCidr(text));
    } catch {
      continue;
    }
    pieces = pieces.flatMap((p) => {
      if (within(hole, p)) return [];
      return within(p, hole) ? cutOut(p, hole) : [p];
    });
  }
  return pieces.map(formatCidr);
}

/**
 * Routes go in whenever the switch is on and the portal offers the resource, also before the
 * gateway has answered or while it is unreachable: traffic then waits in the tunnel (WireGuard
 * drops what it has no working peer for) instead of leaving by the plain default route.
 */
export function planInternet(input: InternetPlanInput): InternetPlan {
  const active = input.enabled && input.available;
  if (!active) return { active, routes: [], allowLan: false };
  return {
    active,
    routes: subtract(DEFAULT_ROUTES, [...ALWAYS_DIRECT, ...input.protect]),
    allowLan: input.allowLan,
  };
}
