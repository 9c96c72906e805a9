// Routes over rtnetlink in the main table or any other: dump, add/replace, delete. A route is
// identified by destination, table and output interface; `protocol` marks who owns it.
import { formatCidr, formatIp, networkOf, parseCidr } from "../util/index.ts";
import { dumpByFamily } from "./_dump.ts";
import { requestBatch } from "./batch.ts";
import type { NetlinkConnection } from "./connection.ts";
import {
  AF_INET,
  AF_INET6,
  NLM,
  RT_SCOPE_LINK,
  RT_SCOPE_NOWHERE,
  RT_SCOPE_UNIVERSE,
  RT_TABLE_MAIN,
  RTA,
  RTM,
  RTN_UNICAST,
  RTN_UNSPEC,
  RTPROT_STATIC,
} from "./constants.ts";
import { attrMap, type NlMessage, readU8, readU32 } from "./parse.ts";
import type { NlWriter } from "./writer.ts";

export interface Route {
  /** Destination network in canonical CIDR text ("10.0.0.0/8", "::/0"). */
  dst: string;
  family: 4 | 6;
  table: number;
  /** Output interface index (0 when the route has none, such as a blackhole). */
  oif: number;
  protocol: number;
  scope: number;
  type: number;
  metric: number;
  /** The next hop (RTA_GATEWAY), when the route has one. */
  gateway?: string;
  /** The preferred source address (RTA_PREFSRC), when the route names one. */
  prefsrc?: string;
}

export interface RouteSpec {
  dst: string;
  oif: number;
  /** Default RT_TABLE_MAIN (254). */
  table?: number;
  /** rtm_protocol; default RTPROT_STATIC. Use a number of your own to mark the routes you own. */
  protocol?: number;
  metric?: number;
}

export interface RouteFilter {
  family?: 4 | 6;
  table?: number;
  oif?: number;
  protocol?: number;
}

/** One RTM_NEWROUTE/RTM_DELROUTE body; null for families other than IPv4 and IPv6. */
export function decodeRoute(m: NlMessage): Route | null {
  const family = readU8(m.body, 0);
  if (family !== AF_INET && family !== AF_INET6) return null;
  const f = family === AF_INET ? 4 : 6;
  const attrs = attrMap(m.body, 12);
  const dst = attrs.get(RTA.DST) ?? new Uint8Array(f === 4 ? 4 : 16);
  const route: Route = {
    dst: formatCidr({ family: f, bytes: dst, prefix: readU8(m.body, 1) }),
    family: f,
    table: attrs.has(RTA.TABLE) ? readU32(attrs.get(RTA.TABLE)!) : readU8(m.body, 4),
    oif: attrs.has(RTA.OIF) ? readU32(attrs.get(RTA.OIF)!) : 0,
    protocol: readU8(m.body, 5),
    scope: readU8(m.body, 6),
    type: readU8(m.body, 7),
    metric: attrs.has(RTA.PRIORITY) ? readU32(attrs.get(RTA.PRIORITY)!) : 0,
  };
  const gateway = attrs.get(RTA.GATEWAY);
  if (gateway?.length === (f === 4 ? 4 : 16)) route.gateway = formatIp(gateway);
  const prefsrc = attrs.get(RTA.PREFSRC);
  if (prefsrc?.length === (f === 4 ? 4 : 16)) route.prefsrc = formatIp(prefsrc);
  return route;
}

export function listRoutes(conn: NetlinkConnection, filter: RouteFilter = {}): Route[] {
  return dumpByFamily(
    conn,
    filter.family,
    { get: RTM.GETROUTE, reply: RTM.NEWROUTE, what: "routes" },
    decodeRoute,
    (r) =>
      (filter.table === undefined || r.table === filter.table) &&
      (filter.oif === undefined || r.oif === filter.oif) &&
      (filter.protocol === undefined || r.protocol === filter.protocol),
  );
}

export function writeRoute(w: NlWriter, spec: RouteSpec, forDelete: boolean): void {
  const c = networkOf(parseCidr(spec.dst));
  const table = spec.table ?? RT_TABLE_MAIN;
  // struct rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags.
  w.u8(c.family === 4 ? AF_INET : AF_INET6)
    .u8(c.prefix)
    .u8(0)
    .u8(0);
  w.u8(table < 256 ? table : 0).u8(
    forDelete && spec.protocol === undefined ? 0 : (spec.protocol ?? RTPROT_STATIC),
  );
  // RT_SCOPE_NOWHERE and RTN_UNSPEC in a delete mean "any scope", "any type" (a blackhole left in
  // our table too), as `ip route del` sends them.
  w.u8(forDelete ? RT_SCOPE_NOWHERE : c.family === 4 ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE)
    .u8(forDelete ? RTN_UNSPEC : RTN_UNICAST)
    .u32(0);
  w.attrU32(RTA.TABLE, table);
  if (c.prefix > 0) w.attr(RTA.DST, c.bytes);
  // A route without a device (blackhole, unreachable) is deleted without naming one.
  if (!forDelete || spec.oif !== 0) w.attrU32(RTA.OIF, spec.oif);
  if (spec.metric !== undefined) w.attrU32(RTA.PRIORITY, spec.metric);
}

/** Adds a route; with `replace` an existing route to the same destination (and metric) is replaced. */
export function addRoute(
  conn: NetlinkConnection,
  spec: RouteSpec,
  options: { replace?: boolean } = {},
): void {
  conn.request(RTM.NEWROUTE, (w) => writeRoute(w, spec, false), {
    flags: NLM.F_CREATE | (options.replace ? NLM.F_REPLACE : NLM.F_EXCL),
    operation: `${options.replace ? "replace" : "add"} route ${spec.dst}`,
  });
}

export function deleteRoute(conn: NetlinkConnection, spec: RouteSpec): void {
  conn.request(RTM.DELROUTE, (w) => writeRoute(w, spec, true), { operation: `delete route ${spec.dst}` });
}

/** Adds many routes in batches (batch.ts); one result per route: null when added, else its error. */
export function addRoutes(conn: NetlinkConnection, specs: readonly RouteSpec[]): (Error | null)[] {
  return requestBatch(
    conn,
    specs.map((spec) => ({
      type: RTM.NEWROUTE,
      flags: NLM.F_CREATE | NLM.F_EXCL,
      body: (w: NlWriter) => writeRoute(w, spec, false),
      operation: `add route ${spec.dst}`,
    })),
  );
}
