// Finds the wireguard-go processes a crashed predecessor left running for an interface, in this
// network namespace only (a gateway in another namespace may use the same name).
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

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
