// What a crashed predecessor may leave, and its removal: the wireguard-go serving the interface's
// UAPI socket (in this network namespace only: a gateway in another one may use the same name), the
// interface, our policy rules, routes with our protocol mark in our table, the UAPI socket.
import { closeSync, existsSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import type { Rtnetlink, RuleSpec } from "../netlink/index.ts";
import { pidfdAlive, pidfdSignal } from "../sys/index.ts";
import { ignoreMissing } from "./routes.ts";
import { uapiSocketInUse, uapiSocketOwner } from "./uapi_client.ts";

function netnsOf(pid: number | "self"): string | null {
  try {
    return readlinkSync(`/proc/${pid}/ns/net`);
  } catch {
    return null;
  }
}

/** A process found by its socket, held by a pidfd where the kernel has them (Linux 5.3+). */
export interface StaleProcess {
  pid: number;
  pidfd: number | null;
}

/**
 * The wireguard-go that serves our interface's UAPI socket, if it shares our network namespace.
 * The socket names it (the kernel's peer credentials of the listener), so no other process can be
 * taken for it; the socket path is shared by every namespace, so the namespace is checked too. The
 * pidfd taken on that connection keeps naming that process, so the signals sent later cannot reach
 * another one that got its pid after it exited.
 */
export async function findWireguardGo(socketPath: string): Promise<StaleProcess[]> {
  const owner = await uapiSocketOwner(socketPath);
  if (owner === null) return [];
  if (owner.pid !== process.pid && isOurWireguardGo(owner.pid)) return [owner];
  if (owner.pidfd !== null) closeSync(owner.pidfd);
  return [];
}

function isOurWireguardGo(pid: number): boolean {
  try {
    const comm = readFileSync(`/proc/${pid}/comm`, "utf8").trim();
    return comm === "wireguard-go" && netnsOf(pid) === netnsOf("self");
  } catch {
    return false;
  }
}

const SIGKILL = 9;
const SIGTERM = 15;

function signal(p: StaleProcess, sig: number): void {
  if (p.pidfd !== null) pidfdSignal(p.pidfd, sig);
  else
    try {
      process.kill(p.pid, sig);
    } catch {
      // Gone already.
    }
}

function alive(p: StaleProcess): boolean {
  if (p.pidfd !== null) return pidfdAlive(p.pidfd);
  try {
    process.kill(p.pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Sends SIGTERM, then SIGKILL to what is still alive after `graceMs`; resolves when all are gone,
 * and closes their pidfds.
 */
export async function killAll(procs: StaleProcess[], graceMs = 1000): Promise<void> {
  try {
    for (const p of procs) if (alive(p)) signal(p, SIGTERM);
    const until = Date.now() + graceMs;
    while (procs.some(alive) && Date.now() < until) await Bun.sleep(10);
    for (const p of procs) if (alive(p)) signal(p, SIGKILL);
    // A killed child of a dead parent is reaped by init; wait until it has left the process table.
    const hard = Date.now() + 2000;
    while (procs.some(alive) && Date.now() < hard) await Bun.sleep(10);
  } finally {
    for (const p of procs) if (p.pidfd !== null) closeSync(p.pidfd);
  }
}

export interface StaleScope {
  rt: Rtnetlink;
  name: string;
  table: number;
  protocol: number;
  /** Our policy rules (one per family): removed by priority, table, mark and owner protocol. */
  rules: RuleSpec[];
  uapiSocket: string;
  /** More tables whose routes with our protocol are ours too (the Internet Resource's). */
  extraTables?: number[];
}

/** Removes the stale wireguard-go, interface, routes and UAPI socket; returns a line per thing removed. */
export async function removeStale(scope: StaleScope): Promise<string[]> {
  const { rt, name } = scope;
  const removed: string[] = [];
  const stale = await findWireguardGo(scope.uapiSocket);
  if (stale.length) {
    await killAll(stale);
    removed.push(...stale.map((p) => `wireguard-go pid ${p.pid}`));
  }
  const link = rt.link(name);
  if (link) {
    if (link.kind !== "tun" && link.kind !== "wireguard")
      throw new Error(
        `interface ${name} exists and is a ${link.kind ?? "plain"} device, not ours. Remove it or pick another name.`,
      );
    ignoreMissing(() => rt.deleteLink(link.index));
    removed.push(`interface ${name}`);
  }
  for (const want of scope.rules) {
    const same = rt
      .rules({ family: want.family, priority: want.priority, table: want.table, protocol: scope.protocol })
      .filter((r) => r.fwmark === want.fwmark && r.invert === !!want.invert);
    for (const r of same) {
      ignoreMissing(() => rt.deleteRule(r));
      removed.push(`IPv${r.family} rule ${r.priority}`);
    }
  }
  for (const table of [scope.table, ...(scope.extraTables ?? [])]) {
    for (const r of rt.routes({ table, protocol: scope.protocol })) {
      ignoreMissing(() => rt.deleteRoute({ dst: r.dst, oif: r.oif, table: r.table, protocol: r.protocol }));
      removed.push(`route ${r.dst}`);
    }
  }
  // Ours is dead by now; a socket that still answers belongs to another namespace's wireguard-go.
  if (existsSync(scope.uapiSocket) && !(await uapiSocketInUse(scope.uapiSocket))) {
    rmSync(scope.uapiSocket, { force: true });
    removed.push(`socket ${scope.uapiSocket}`);
  }
  return removed;
}
