// Roaming benchmark (run as root: bun run bench:roam), on the devstack world in namespaces. For
// each change of the client's uplink (a new address; the link going down and up again; the default
// route moving to a second uplink while the first goes down), the time from the change to:
//   - "known resource": the first successful HTTP GET to a resource whose path was set up before;
//   - "new resource": the first successful GET to a resource the user was granted at the moment
//     of the change, which needs a working portal session (the grant reaches the client over it).
// Each is measured with the network monitor on and, in the same run, with it off
// (FIREZONE_NETWORK_MONITOR=off: the daemon learns of the change only when the portal's heartbeat
// is missed, then waits for its backoff). Median of BENCH_ROUNDS (default 3) rounds.
//
// Both daemons meet each change in the same condition as a laptop that has been online for a
// while: the portal connection has been up for BENCH_STABLE_MS (30 s, when the backoff starts
// over), and the change falls at a different point of the 10 s heartbeat cycle in each round,
// spread evenly ((i + 0.5) / rounds of the cycle), so the baseline's heartbeat wait is the average
// one, neither the luckiest nor the worst. BENCH_TRACE=1 prints, per round, what the daemon, the
// portal and the gateway logged from the change to the figure, in ms after the change.
import { join } from "node:path";
import { Lines } from "../devstack/shared/netns.ts";
import { BUN } from "../tests/_support/build.ts";
import { addSecondUplink } from "../tests/_support/second_uplink.ts";
import { Stack } from "../tests/_support/stack.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const STABLE_MS = Number(process.env.BENCH_STABLE_MS ?? 30_000);
const TRACE = process.env.BENCH_TRACE === "1";
const HEARTBEAT_MS = 10_000;
/** `on` or `off` runs one side only (while looking into one of them); the ratio needs both. */
const MODES = (["on", "off"] as const).filter((m) => (process.env.BENCH_MONITOR ?? m) === m);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (ms: number) => `${(ms / 1000).toFixed(2).padStart(6)} s`;

const stack = await Stack.create();
let address = "10.77.1.2";

// The prober: one process in the client namespace for the whole run (bench/fixtures/roam_prober.ts).
const prober = Bun.spawn(
  ["ip", "netns", "exec", stack.world.client, BUN, join(import.meta.dir, "fixtures/roam_prober.ts")],
  { stdin: "pipe", stdout: "pipe", stderr: "inherit" },
);
const probes = new Lines(prober.stdout as ReadableStream<Uint8Array>);
let probeId = 0;

async function signIn(): Promise<void> {
  const { token } = stack.store((s) => s.createClientToken(stack.seed.aliceId));
  const r = await stack.ctl(["sign-in", "--token-stdin"], token);
  if (r.code !== 0) throw new Error(r.err);
  await stack.waitForState("connected", 20_000);
  await stack.waitForFetch(stack.seed.web.address, 20_000);
}

/** The time a log line was written (its ISO timestamp), or NaN. */
const stamp = (line: string) => Date.parse(line.slice(0, 24));

/** When the client's current portal connection joined: the portal's last `client joined` line. */
function joinedAt(): number {
  const lines = stack.portal!.err.all.filter((l) => l.includes("client joined"));
  return stamp(lines.at(-1) ?? "");
}

/**
 * Commands run by one `ip -batch` in the client namespace: one process for the whole change, as a
 * network manager applies a new configuration, so the figure holds little of the benchmark's own.
 */
async function ipBatch(...lines: string[]): Promise<void> {
  const p = Bun.spawn(["ip", "-n", stack.world.client, "-batch", "-"], {
    stdin: new TextEncoder().encode(`${lines.join("\n")}\n`),
    stderr: "pipe",
  });
  if ((await p.exited) !== 0) throw new Error(`ip -batch: ${await new Response(p.stderr).text()}`);
}

/** `ip -n` rather than `ip netns exec`: a tenth of the start-up, and this wait is part of the figure. */
async function waitForCarrier(dev: string): Promise<void> {
  const show = async () => {
    const p = Bun.spawn(["ip", "-n", stack.world.client, "link", "show", dev], { stdout: "pipe" });
    return new Response(p.stdout).text();
  };
  for (let i = 0; i < 100 && !(await show()).includes("LOWER_UP"); i++) await Bun.sleep(10);
}

/** The scenarios: each makes one change and returns when the command that makes it has run. */
const scenarios: Record<string, { change: () => Promise<void>; undo?: () => Promise<void> }> = {
  // A new DHCP lease with another address: the old address goes, the new one and the default route come.
  "address change": {
    change: async () => {
      const next = address === "10.77.1.2" ? "10.77.1.3" : "10.77.1.2";
      await ipBatch(
        `addr del ${address}/24 dev to-hub`,
        `addr add ${next}/24 dev to-hub`,
        "route replace default via 10.77.1.1 dev to-hub",
      );
      address = next;
    },
  },
  // A cable out and in again (or a Wi-Fi reassociation) with the same address; the default route
  // is set again once the carrier is back, as a network manager does.
  "link flap": {
    change: async () => {
      await ipBatch("link set to-hub down", "link set to-hub up");
      await waitForCarrier("to-hub");
      await ipBatch("route replace default via 10.77.1.1 dev to-hub");
    },
  },
  // Wi-Fi to Ethernet: the default route moves to the second uplink and the first goes down. (The
  // devstack's portal sits on the first uplink's own subnet, so only this direction takes the
  // portal connection's path away.) Afterwards the first uplink comes back with the default route,
  // and SIGHUP, with or without the monitor, starts the next round from a session dialled over it.
  "second uplink": {
    change: async () => {
      await ipBatch("route replace default via 10.77.3.1 dev to-hub2", "link set to-hub down");
    },
    undo: async () => {
      await ipBatch("link set to-hub up");
      await waitForCarrier("to-hub");
      await ipBatch("route replace default via 10.77.1.1 dev to-hub");
      process.kill(stack.daemon!.proc.pid, "SIGHUP");
      await Bun.sleep(500);
    },
  },
};

/** Waits until the portal connection has been up for STABLE_MS, at heartbeat phase `phase` (0..1). */
async function settle(phase: number): Promise<void> {
  await stack.waitForState("connected", 120_000);
  const joined = joinedAt();
  let at = joined + STABLE_MS + phase * HEARTBEAT_MS;
  while (at < Date.now()) at += HEARTBEAT_MS;
  await Bun.sleep(at - Date.now());
}

/** What the daemon, portal and gateway logged between `from` and `to` (epoch ms), in ms after `from`. */
function trace(from: number, to: number): string[] {
  const out: Array<[number, string]> = [];
  for (const [name, p] of [
    ["daemon", stack.daemon],
    ["portal", stack.portal],
    ["gateway", stack.gateway],
  ] as const) {
    for (const line of p?.err.all ?? []) {
      const t = stamp(line);
      if (t >= from && t <= to) out.push([t - from, `${name}: ${line.slice(25, 220)}`]);
    }
  }
  return out.sort((a, b) => a[0] - b[0]).map(([t, l]) => `  ${String(t).padStart(6)} ms  ${l}`);
}

/** Runs one round of `change`: both times, measured from just before the change. */
async function round(
  scenario: { change: () => Promise<void>; undo?: () => Promise<void> },
  phase: number,
): Promise<{ known: number; fresh: number; log: string[] }> {
  await settle(phase);
  const id = String(++probeId);
  const started = Date.now();
  await scenario.change();
  stack.store((s) => s.createPolicy(stack.seed.accountId, stack.seed.everyone, stack.seed.secret.id));
  prober.stdin.write(`go ${id} ${stack.seed.web.address} ${stack.seed.secret.address}\n`);
  prober.stdin.flush();
  const times = new Map<string, number>();
  while (times.size < 2) {
    const line = await probes.next(new RegExp(`^ok ${id} `), 120_000);
    const [, , addr, at] = line.split(" ");
    times.set(addr!, Number(at) - started);
  }
  const known = times.get(stack.seed.web.address)!;
  const fresh = times.get(stack.seed.secret.address)!;
  const log = TRACE ? trace(started - 50, started + Math.max(known, fresh) + 100) : [];
  stack.store((s) => s.deletePolicy(stack.seed.everyone, stack.seed.secret.id));
  // The revocation reaches the client before the next round (its route goes).
  for (let i = 0; i < 100 && (await stack.fetchFromClient(stack.seed.secret.address, 500)) !== null; i++)
    await Bun.sleep(100);
  await scenario.undo?.();
  return { known, fresh, log };
}

const results: Record<string, Record<"on" | "off", { known: number[]; fresh: number[] }>> = {};
try {
  await probes.next(/^ready/, 20_000);
  await addSecondUplink(stack.world);
  for (const monitor of MODES) {
    await Stack.kill(stack.daemon);
    await stack.startDaemon({ FIREZONE_NETWORK_MONITOR: monitor, FIREZONE_LOG_LEVEL: "debug" });
    await signIn();
    for (const [name, scenario] of Object.entries(scenarios)) {
      results[name] ??= { on: { known: [], fresh: [] }, off: { known: [], fresh: [] } };
      const r = results[name][monitor];
      for (let i = 0; i < ROUNDS; i++) {
        const { known, fresh, log } = await round(scenario, (i + 0.5) / ROUNDS);
        r.known.push(known);
        r.fresh.push(fresh);
        process.stderr.write(`${name}, monitor ${monitor}, round ${i + 1}: ${fmt(known)} ${fmt(fresh)}\n`);
        for (const l of log) process.stderr.write(`${l}\n`);
      }
    }
  }
  const load = (await Bun.file("/proc/loadavg").text()).split(" ").slice(0, 3).join(" ");
  console.log(
    `Roaming benchmark (median of ${ROUNDS}; time from the uplink change to the first successful GET; load ${load})`,
  );
  console.log("scenario         resource   monitor on  monitor off   ratio   rounds on / off (s)");
  for (const [name, r] of Object.entries(results)) {
    for (const kind of ["known", "fresh"] as const) {
      const on = r.on[kind].length ? median(r.on[kind]) : Number.NaN;
      const off = r.off[kind].length ? median(r.off[kind]) : Number.NaN;
      const all = (xs: number[]) => xs.map((x) => (x / 1000).toFixed(2)).join(" ");
      console.log(
        `${name.padEnd(16)} ${(kind === "known" ? "known" : "new").padEnd(8)} ${fmt(on)}    ${fmt(off)}   ${(off / on).toFixed(1).padStart(5)}x   ${all(r.on[kind])} / ${all(r.off[kind])}`,
      );
    }
  }
} finally {
  prober.kill();
  await stack.destroy();
}
