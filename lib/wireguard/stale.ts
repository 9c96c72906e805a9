// What a crashed predecessor may leave, and its removal: wireguard-go processes for the interface
// (in this network namespace only: a gateway in another one may use the same name), the interface,
// routes with our protocol mark, the UAPI socket.
import { existsSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import type { Rtnetlink } from "../netlink/index.ts";
import { ignoreMissing } from "./routes.ts";
import { uapiSocketInUse } from "./uapi_client.ts";

function netnsOf(pid: number | "self"): string | null {
  try {
    return readlinkSync(`/proc/${pid}/ns/net`);
  } catch {
    return null;
  }
}

/** Pids of `wireguard-go ... <name>` processes sharing this process's network namespace. */
export function findWireguardGo(name: string): number[] {
  const ours = netnsOf("self");
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
    } catch {
      continue;
    }
    if (!argv[0]?.endsWith("wireguard-go") || argv.at(-1) !== name) continue;
    if (netnsOf(pid) === ours) pids.push(pid);
  }
  return pids;
}

/** Sends SIGTERM, then SIGKILL to what is still alive after `graceMs`; resolves when all are gone. */
export async function killAll(pids: number[], graceMs = 1000): Promise<void> {
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  for (const pid of pids) if (alive(pid)) process.kill(pid, "SIGTERM");
  const until = Date.now() + graceMs;
  while (pids.some(alive) && Date.now() < until) await Bun.sleep(10);
  for (const pid of pids) if (alive(pid)) process.kill(pid, "SIGKILL");
  // A killed child of a dead parent is reaped by init; wait until it has left the process table.
  const hard = Date.now() + 2000;
  while (pids.some(alive) && Date.now() < hard) await Bun.sleep(10);
}

export interface StaleScope {
  rt: Rtnetlink;
  name: string;
  table: number;
  protocol: number;
  uapiSocket: string;
}

/** Removes the stale wireguard-go, interface, routes and UAPI socket; returns a line per thing removed. */
export async function removeStale(scope: StaleScope): Promise<string[]> {
  const { rt, name } = scope;
  const removed: string[] = [];
  const pids = findWireguardGo(name);
  if (pids.length) {
    await killAll(pids);
    removed.push(...pids.map((p) => `wireguard-go pid ${p}`));
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
  for (const r of rt.routes({ table: scope.table, protocol: scope.protocol })) {
    ignoreMissing(() => rt.deleteRoute({ dst: r.dst, oif: r.oif, table: r.table, protocol: r.protocol }));
    removed.push(`route ${r.dst}`);
  }
  // Ours is dead by now; a socket that still answers belongs to another namespace's wireguard-go.
  if (existsSync(scope.uapiSocket) && !(await uapiSocketInUse(scope.uapiSocket))) {
    rmSync(scope.uapiSocket, { force: true });
    removed.push(`socket ${scope.uapiSocket}`);
  }
  return removed;
}
