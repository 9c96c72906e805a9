// Policy-routing rules over rtnetlink (RTM_NEWRULE, RTM_DELRULE, RTM_GETRULE), the messages
// `ip rule add|del|show` sends: a struct fib_rule_hdr, then FRA_* attributes. Only the "lookup a
// table" action is written; dumps decode every rule so callers can pick out their own.
import { dumpByFamily } from "./_dump.ts";
import type { NetlinkConnection } from "./connection.ts";
import { AF_INET, AF_INET6, FIB_RULE_INVERT, FR_ACT_TO_TBL, FRA, NLM, RTM } from "./constants.ts";
import { attrMap, type NlMessage, readU8, readU32 } from "./parse.ts";
import type { NlWriter } from "./writer.ts";

export interface Rule {
  family: 4 | 6;
  priority: number;
  table: number;
  /** FR_ACT_* (1: lookup a table). */
  action: number;
  /** The rule matches packets whose mark does NOT match (`ip rule add not fwmark ...`). */
  invert: boolean;
  /** Absent when the rule does not look at the mark. */
  fwmark?: number;
  fwmask?: number;
  /** `suppress_prefixlength N`: a lookup result with a prefix of N or shorter is ignored. */
  suppressPrefixLength?: number;
  /** rtm_protocol-style owner mark (FRA_PROTOCOL); 0 when unset. */
  protocol: number;
}

export interface RuleSpec {
  family: 4 | 6;
  priority: number;
  table: number;
  invert?: boolean;
  fwmark?: number;
  /** Default: all bits (the kernel's default when a mark is given). */
  fwmask?: number;
  suppressPrefixLength?: number;
  /** Marks who owns the rule, as rtm_protocol marks routes. */
  protocol?: number;
}

export interface RuleFilter {
  family?: 4 | 6;
  priority?: number;
  table?: number;
  protocol?: number;
}

function decodeRule(m: NlMessage): Rule | null {
  const family = readU8(m.body, 0);
  if (family !== AF_INET && family !== AF_INET6) return null;
  const attrs = attrMap(m.body, 12);
  const u32 = (t: number) => {
    const a = attrs.get(t);
    return a ? readU32(a) : undefined;
  };
  const rule: Rule = {
    family: family === AF_INET ? 4 : 6,
    priority: u32(FRA.PRIORITY) ?? 0,
    table: u32(FRA.TABLE) ?? readU8(m.body, 4),
    action: readU8(m.body, 7),
    invert: (readU32(m.body, 8) & FIB_RULE_INVERT) !== 0,
    protocol: attrs.has(FRA.PROTOCOL) ? readU8(attrs.get(FRA.PROTOCOL)!) : 0,
  };
  const mark = u32(FRA.FWMARK);
  if (mark !== undefined) rule.fwmark = mark;
  const mask = u32(FRA.FWMASK);
  if (mask !== undefined) rule.fwmask = mask;
  const suppress = u32(FRA.SUPPRESS_PREFIXLEN);
  // The kernel reports -1 (0xffffffff) when suppress_prefixlength is not set.
  if (suppress !== undefined && suppress !== 0xffffffff) rule.suppressPrefixLength = suppress;
  return rule;
}

/** Every rule of the family (or both), optionally filtered. */
export function listRules(conn: NetlinkConnection, filter: RuleFilter = {}): Rule[] {
  return dumpByFamily(
    conn,
    filter.family,
    { get: RTM.GETRULE, reply: RTM.NEWRULE, what: "rules" },
    decodeRule,
    (r) =>
      (filter.priority === undefined || r.priority === filter.priority) &&
      (filter.table === undefined || r.table === filter.table) &&
      (filter.protocol === undefined || r.protocol === filter.protocol),
  );
}

// Attribute order as iproute2 writes it, so a capture of `ip rule add` is the reference.
function writeRule(w: NlWriter, spec: RuleSpec): void {
  // struct fib_rule_hdr: family, dst_len, src_len, tos, table, res1, res2, action, flags.
  w.u8(spec.family === 4 ? AF_INET : AF_INET6)
    .u8(0)
    .u8(0)
    .u8(0)
    .u8(spec.table < 256 ? spec.table : 0)
    .u8(0)
    .u8(0)
    .u8(FR_ACT_TO_TBL)
    .u32(spec.invert ? FIB_RULE_INVERT : 0);
  if (spec.fwmark !== undefined) {
    w.attrU32(FRA.FWMARK, spec.fwmark);
    if (spec.fwmask !== undefined) w.attrU32(FRA.FWMASK, spec.fwmask);
  }
  w.attrU32(FRA.TABLE, spec.table);
  if (spec.suppressPrefixLength !== undefined) w.attrU32(FRA.SUPPRESS_PREFIXLEN, spec.suppressPrefixLength);
  w.attrU32(FRA.PRIORITY, spec.priority);
  if (spec.protocol !== undefined) w.attrU8(FRA.PROTOCOL, spec.protocol);
}

const describe = (s: RuleSpec) =>
  `IPv${s.family} rule ${s.priority}: ${s.invert ? "not " : ""}${
    s.fwmark === undefined ? "" : `fwmark 0x${s.fwmark.toString(16)} `
  }lookup ${s.table}`;

/** Adds a rule; an identical rule that exists already is an AlreadyExistsError (NLM_F_EXCL). */
export function addRule(conn: NetlinkConnection, spec: RuleSpec): void {
  conn.request(RTM.NEWRULE, (w) => writeRule(w, spec), {
    flags: NLM.F_CREATE | NLM.F_EXCL,
    operation: `add ${describe(spec)}`,
  });
}

/** Deletes the first rule that matches every field given (the kernel's own matching). */
export function deleteRule(conn: NetlinkConnection, spec: RuleSpec): void {
  conn.request(RTM.DELRULE, (w) => writeRule(w, spec), { operation: `delete ${describe(spec)}` });
}
