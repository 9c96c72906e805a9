// Policy routing for a tunnel, as wg-quick, Tailscale and Firezone do it: the WireGuard socket
// carries a fwmark, and a rule sends everything else to the tunnel's own routing table. See
// docs/tunnel.md ("Policy routing") for the numbers and why.
import type { RuleSpec } from "../netlink/index.ts";
import { DEFAULT_TUN_NAME } from "../tun/index.ts";

/**
 * How the tunnel's traffic is kept apart from the host's:
 * - `split` (the client): resource routes live in `table`; the rule `not fwmark <fwmark> lookup
 *   <table>` at `priority` sends only unmarked traffic there, so WireGuard's own UDP (marked) never
 *   loops into the tunnel.
 * - `bypass` (a gateway): routes stay in `table` (main); the rule `fwmark <fwmark> lookup main` at
 *   `priority` keeps the gateway's marked UDP out of any client table on the same host.
 */
export interface RoutingPolicy {
  mode: "split" | "bypass";
  fwmark: number;
  table: number;
  priority: number;
}

/** Firezone's own client numbers: mark 0xfd002021, table 0x2021fd00. */
export const CLIENT_FWMARK = 0xfd002021;
export const CLIENT_TABLE = 0x2021fd00;
/**
 * Below main (32766), so a resource wins over the host's routes to the same place; above 0 (local),
 * so the host's own addresses stay local; clear of Tailscale's 5210-5270 and of the gateway's 6310.
 */
export const CLIENT_RULE_PRIORITY = 6410;
/** Tables for interface names other than the default: this base plus 16 bits of the name's hash. */
export const OTHER_NAME_TABLES = 0x20220000;
/** The devstack gateway's numbers, distinct from the client's so both can run on one host. */
export const GATEWAY_FWMARK = 0xfd002022;
export const GATEWAY_RULE_PRIORITY = 6310;
/** rtm_protocol of the gateway's routes (the client's are 0x7a). */
export const GATEWAY_ROUTE_PROTOCOL = 0x7b;
export const RT_TABLE_MAIN = 254;

/** FNV-1a, 32 bits: a stable small number from an interface name. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) h = Math.imul(h ^ byte, 0x01000193) >>> 0;
  return h;
}

/**
 * The client's policy for interface `name`. The default name gets table 0x2021fd00; any other name
 * (FIREZONE_TUN_NAME) a table of its own in 0x20220000-0x2022ffff, so a second client in the same
 * namespace keeps its routes and its rule apart and one's cleanup never removes the other's.
 */
export function clientPolicy(name: string): RoutingPolicy {
  const table = name === DEFAULT_TUN_NAME ? CLIENT_TABLE : OTHER_NAME_TABLES + (fnv1a(name) & 0xffff);
  return { mode: "split", fwmark: CLIENT_FWMARK, table, priority: CLIENT_RULE_PRIORITY };
}

/** The gateway's policy: routes in main, its marked UDP pinned to main ahead of any client rule. */
export function gatewayPolicy(): RoutingPolicy {
  return { mode: "bypass", fwmark: GATEWAY_FWMARK, table: RT_TABLE_MAIN, priority: GATEWAY_RULE_PRIORITY };
}

/** The rules, one per family, that put a policy in force; `protocol` marks them as ours. */
export function policyRules(policy: RoutingPolicy, protocol: number): RuleSpec[] {
  return ([4, 6] as const).map((family) =>
    policy.mode === "split"
      ? {
          family,
          priority: policy.priority,
          table: policy.table,
          invert: true,
          fwmark: policy.fwmark,
          protocol,
        }
      : { family, priority: policy.priority, table: RT_TABLE_MAIN, fwmark: policy.fwmark, protocol },
  );
}
