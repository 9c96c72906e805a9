// The routes a tunnel owns: those with its protocol mark, on its interface, in its table. Reconciling
// adds what is missing and removes what is extra, and never replaces a route someone else made.
import type { Rtnetlink } from "../netlink/index.ts";
import { AlreadyExistsError, NotFoundError } from "../sys/index.ts";
import { type Logger, normalizeCidr } from "../util/index.ts";

/** rtm_protocol of every route the tunnel adds: how it knows its own routes from anyone else's. */
export const ROUTE_PROTOCOL = 0x7a;

export interface RouteOwner {
  oif: number;
  table: number;
  protocol: number;
}

export interface RouteChanges {
  added: string[];
  removed: string[];
  /** Destinations someone else already routes in the table; left alone. */
  conflicts: string[];
  /** IPv6 destinations not routed because the host has IPv6 switched off. */
  skipped: string[];
}

/** Runs `fn`, treating "already gone" as done. */
export function ignoreMissing(fn: () => void): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof NotFoundError)) throw e;
  }
}

/** Makes the owner's routes exactly `cidrs` (prefixes normalised: 10.1.2.3/8 is 10.0.0.0/8). */
export function reconcileRoutes(
  rt: Rtnetlink,
  owner: RouteOwner,
  cidrs: string[],
  log: Logger,
  options: { ipv6?: boolean } = {},
): RouteChanges {
  const changes: RouteChanges = { added: [], removed: [], conflicts: [], skipped: [] };
  const want = new Set<string>();
  for (const c of cidrs.map(normalizeCidr)) {
    if (options.ipv6 === false && c.includes(":")) changes.skipped.push(c);
    else want.add(c);
  }
  for (const r of rt.routes(owner)) {
    if (want.delete(r.dst)) continue;
    ignoreMissing(() => rt.deleteRoute({ ...owner, dst: r.dst }));
    changes.removed.push(r.dst);
  }
  // Batched (lib/netlink/batch.ts): one route the kernel refuses costs only itself.
  const adds = [...want];
  const results = rt.addRoutes(adds.map((dst) => ({ ...owner, dst })));
  results.forEach((err, i) => {
    const dst = adds[i]!;
    if (!err) changes.added.push(dst);
    else if (err instanceof AlreadyExistsError) {
      changes.conflicts.push(dst);
      log.warn("a route to this destination exists already; leaving it alone", { dst });
    } else log.warn("the kernel refused a route; the others are in place", { dst, error: err.message });
  });
  if (changes.added.length || changes.removed.length) log.debug("routes changed", { ...changes });
  return changes;
}
