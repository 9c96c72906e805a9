// The Internet Resource's part of policy routing (docs/internet-resource.md): the default routes
// live in a table of their own, looked up after the resources' table, so resources always win and,
// with allow-LAN, the host's specific routes (its LAN) come before the default route through the
// tunnel. The WireGuard socket's mark keeps its own UDP out of both tables.
import type { RuleSpec } from "../netlink/index.ts";
import { CLIENT_TABLE, type RoutingPolicy, RT_TABLE_MAIN } from "./policy.ts";

/** With allow-LAN: `lookup main suppress_prefixlength 0`, main's specific routes but never its default. */
export const LAN_RULE_PRIORITY = 6420;
/** `not fwmark <mark> lookup <internet table>`: everything no resource and no LAN route took. */
export const INTERNET_RULE_PRIORITY = 6430;

/**
 * The Internet Resource's table: next to the resources' table for the default interface name
 * (0x2021fd01), and for other names in 0x20230000-0x2023ffff with the same 16 bits of the name's
 * hash as their resource table (0x2022xxxx), so it never meets another name's tables.
 */
export function internetTable(policy: RoutingPolicy): number {
  return policy.table === CLIENT_TABLE ? CLIENT_TABLE + 1 : policy.table + 0x10000;
}

/** The rules that put the Internet Resource in force, one per family; `protocol` marks them ours. */
export function internetRules(policy: RoutingPolicy, protocol: number, allowLan: boolean): RuleSpec[] {
  return ([4, 6] as const).flatMap((family) => [
    ...(allowLan
      ? [{ family, priority: LAN_RULE_PRIORITY, table: RT_TABLE_MAIN, suppressPrefixLength: 0, protocol }]
      : []),
    {
      family,
      priority: INTERNET_RULE_PRIORITY,
      table: internetTable(policy),
      invert: true,
      fwmark: policy.fwmark,
      protocol,
    },
  ]);
}

/** What the Internet Resource asks of the tunnel: routes for its table, and whether the LAN rule goes in. */
export interface FullTunnelRoutes {
  routes: string[];
  allowLan: boolean;
}
