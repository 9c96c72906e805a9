// The kernel's side of a session's scope: one nftables table of the daemon's own, built from typed
// values only (a checked interface name, uids as integers, a checked cgroup path). Packets leaving
// through the tunnel from a socket of anyone but root and the owner (and, for scope `app`, outside
// the named cgroup) are refused with a TCP reset or ICMP admin-prohibited, so the program sees an
// error at once. Forwarded packets into the tunnel (containers, VMs) are refused in scopes `user`
// and `app`: the kernel cannot tell whose they are (docs/security.md, "Session scope").

import * as v from "valibot";
import { CgroupPath } from "../ipc/index.ts";

/** What the rules enforce; `system` needs no rules at all. */
export type ScopePolicy =
  | { scope: "system" }
  | { scope: "user"; uid: number }
  | { scope: "app"; uid: number; cgroup: string };

/** Interface names as the kernel accepts them (IFNAMSIZ 16 with the NUL), without odd characters. */
const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;
const MAX_UID = 0xfffffffe;

export function checkIfname(name: string): string {
  if (!IFNAME.test(name) || name === "." || name === "..")
    throw new Error(`'${name.slice(0, 32)}' is not an interface name this daemon uses in nftables rules`);
  return name;
}

export function checkUid(uid: number): number {
  if (!Number.isInteger(uid) || uid < 0 || uid > MAX_UID) throw new Error(`uid ${uid} is not a uid`);
  return uid;
}

export function checkCgroup(path: string): string {
  return v.parse(CgroupPath, path);
}

/** The table's name: `firezone` for the packaged device, one per device otherwise (tests, labs). */
export function tableName(ifname: string): string {
  checkIfname(ifname);
  return ifname === "tun-firezone" ? "firezone" : `firezone-${ifname}`;
}

const FAMILY = "inet";
const match = (left: unknown, op: "==" | "!=", right: unknown) => ({ match: { op, left, right } });
const meta = (key: string) => ({ meta: { key } });
const TCP_RESET = { reject: { type: "tcp reset" } };
const ADMIN_PROHIBITED = { reject: { type: "icmpx", expr: "admin-prohibited" } };

/** The table, deleted and created again in the same transaction: whatever a predecessor left goes. */
function freshTable(table: string): unknown[] {
  return [
    { add: { table: { family: FAMILY, name: table } } },
    { delete: { table: { family: FAMILY, name: table } } },
    { add: { table: { family: FAMILY, name: table } } },
  ];
}

/** Deletes the table if it exists (a no-op otherwise): sign-out, scope `system`, crash cleanup. */
export function removeRules(ifname: string): unknown[] {
  const table = tableName(ifname);
  return [
    { add: { table: { family: FAMILY, name: table } } },
    { delete: { table: { family: FAMILY, name: table } } },
  ];
}

/**
 * One JSON transaction that makes the table exactly what `policy` needs. For scope `app` the chain
 * `app` holds a refusal of everything until appRules() (a second transaction) replaces it: in
 * between, the owner is refused, never let through.
 */
export function scopeRules(ifname: string, policy: Exclude<ScopePolicy, { scope: "system" }>): unknown[] {
  checkIfname(ifname);
  const table = tableName(ifname);
  const uid = checkUid(policy.uid);
  const chain = (name: string, hook?: "output" | "forward") => ({
    add: {
      chain: {
        family: FAMILY,
        table,
        name,
        ...(hook ? { type: "filter", hook, prio: 0, policy: "accept" } : {}),
      },
    },
  });
  const rule = (ch: string, expr: unknown[]) => ({
    add: { rule: { family: FAMILY, table, chain: ch, expr } },
  });
  const oif = match(meta("oifname"), "==", ifname);
  const isTcp = match(meta("l4proto"), "==", "tcp");
  // A packet without a full socket (the kernel's own resets and ICMP errors, TIME_WAIT) does not
  // match a skuid test at all, so it passes: it answers traffic, it starts none.
  const notAllowed = match(meta("skuid"), "!=", { set: uid === 0 ? [0] : [0, uid] });
  const commands: unknown[] = [
    ...freshTable(table),
    chain("output", "output"),
    chain("forward", "forward"),
    chain("scope"),
    rule("output", [oif, { jump: { target: "scope" } }]),
    rule("scope", [notAllowed, isTcp, TCP_RESET]),
    rule("scope", [notAllowed, ADMIN_PROHIBITED]),
    rule("forward", [oif, isTcp, TCP_RESET]),
    rule("forward", [oif, ADMIN_PROHIBITED]),
  ];
  if (policy.scope === "app") {
    checkCgroup(policy.cgroup);
    const rootOnly = match(meta("skuid"), "!=", 0);
    commands.push(
      chain("app"),
      rule("scope", [{ jump: { target: "app" } }]),
      rule("app", [rootOnly, isTcp, TCP_RESET]),
      rule("app", [rootOnly, ADMIN_PROHIBITED]),
    );
  }
  return commands;
}

/**
 * The cgroup half of scope `app`, in nft's own syntax: nft 1.0.6 has no JSON form of `socket
 * cgroupv2`. Every value in it is checked here (interface name, uid, cgroup path of plain names), so
 * no text from outside reaches nft unchecked. `mountPrefix` is where nft finds the cgroup v2
 * hierarchy below /sys/fs/cgroup ("" on a pure v2 system, "unified/" on a hybrid one).
 */
export function appRules(ifname: string, cgroup: string, mountPrefix: string): string {
  const table = tableName(ifname);
  const path = checkCgroup(cgroup);
  if (mountPrefix !== "" && !/^[A-Za-z0-9_.-]+\/$/.test(mountPrefix))
    throw new Error(`'${mountPrefix}' is not a cgroup mount prefix`);
  const level = path.split("/").length;
  // The positive test: a socket in a cgroup shallower than `level` makes a cgroupv2 match fail
  // (not merely differ), so "not in the cgroup" cannot be written as one `!=` rule. Inside: accept;
  // anyone else but root (whose packets have passed the uid rules only as root or owner): refused.
  const rootOnly = "meta skuid != 0";
  return [
    `flush chain inet ${table} app`,
    `add rule inet ${table} app socket cgroupv2 level ${level} "${mountPrefix}${path}" accept`,
    `add rule inet ${table} app ${rootOnly} meta l4proto tcp reject with tcp reset`,
    `add rule inet ${table} app ${rootOnly} reject with icmpx admin-prohibited`,
    "",
  ].join("\n");
}
