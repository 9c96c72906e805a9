// Roaming benchmark (run as root: bun run bench:roam), on the devstack world in namespaces. For
// each change of the client's uplink (a new address; the link going down and up again), the time
// from the change to:
//   - "known resource": the first successful HTTP GET to a resource whose path was set up before;
//   - "new resource": the first successful GET to a resource the user was granted at the moment
//     of the change, which needs a working portal session (the grant reaches the client over it).
// Each is measured with the network monitor on and, in the same run, with it off
// (FIREZONE_NETWORK_MONITOR=off: the daemon learns of the change only when the portal's heartbeat
// is missed, then waits for its backoff). Median of BENCH_ROUNDS (default 3) rounds.
import { inNs } from "../devstack/shared/netns.ts";
import { Stack } from "../tests/_support/stack.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (ms: number) => `${(ms / 1000).toFixed(2).padStart(6)} s`;

const stack = await Stack.create();
const cli = (...args: string[]) => inNs(stack.world.client, args);
let address = "10.77.1.2";

async function signIn(): Promise<void> {
  const { token } = stack.store((s) => s.createClientToken(stack.seed.aliceId));
  const r = await stack.ctl(["sign-in", "--token-stdin"], token);
  if (r.code !== 0) throw new Error(r.err);
  await stack.waitForState("connected", 20_000);
  await stack.waitForFetch(stack.seed.web.address, 20_000);
}

/** The scenarios: each makes one change and returns when the command that makes it has run. */
const scenarios: Record<string, () => Promise<void>> = {
  "address change": async () => {
    const next = address === "10.77.1.2" ? "10.77.1.3" : "10.77.1.2";
    await cli("ip", "addr", "del", `${address}/24`, "dev", "to-hub");
    await cli("ip", "addr", "add", `${next}/24`, "dev", "to-hub");
    await cli("ip", "route", "replace", "default", "via", "10.77.1.1");
    address = next;
  },
  "link flap": async () => {
    await cli("ip", "link", "set", "to-hub", "down");
    await cli("ip", "link", "set", "to-hub", "up");
    for (let i = 0; i < 50 && !(await cli("ip", "link", "show", "to-hub")).includes("LOWER_UP"); i++)
      await Bun.sleep(20);
    await cli("ip", "route", "replace", "default", "via", "10.77.1.1");
  },
};

/** Polls with a fresh TCP connection every 0.3 s at most, so the figure is not a SYN's 1 s retry. */
async function firstGet(address: string, started: number): Promise<number> {
  for (;;) {
    if ((await stack.fetchFromClient(address, 300)) !== null) return performance.now() - started;
    if (performance.now() - started > 120_000) throw new Error(`${address} did not answer within 120 s`);
  }
}

/** Runs one round of `change`: both times, measured from just before the change. */
async function round(change: () => Promise<void>): Promise<{ known: number; fresh: number }> {
  // The session must be settled first: connected for a while, so a dead connection is not already
  // being noticed when the change comes.
  await stack.waitForState("connected", 120_000);
  await Bun.sleep(2000);
  const started = performance.now();
  await change();
  stack.store((s) => s.createPolicy(stack.seed.accountId, stack.seed.everyone, stack.seed.secret.id));
  const known = firstGet(stack.seed.web.address, started);
  const fresh = firstGet(stack.seed.secret.address, started);
  const result = { known: await known, fresh: await fresh };
  stack.store((s) => s.deletePolicy(stack.seed.everyone, stack.seed.secret.id));
  // The revocation reaches the client before the next round (its route goes).
  for (let i = 0; i < 100 && (await stack.fetchFromClient(stack.seed.secret.address, 500)) !== null; i++)
    await Bun.sleep(100);
  return result;
}

const results: Record<string, Record<"on" | "off", { known: number[]; fresh: number[] }>> = {};
try {
  for (const monitor of ["on", "off"] as const) {
    await Stack.kill(stack.daemon);
    await stack.startDaemon({ FIREZONE_NETWORK_MONITOR: monitor });
    await signIn();
    for (const [name, change] of Object.entries(scenarios)) {
      results[name] ??= { on: { known: [], fresh: [] }, off: { known: [], fresh: [] } };
      const r = results[name][monitor];
      for (let i = 0; i < ROUNDS; i++) {
        const { known, fresh } = await round(change);
        r.known.push(known);
        r.fresh.push(fresh);
        process.stderr.write(`${name}, monitor ${monitor}, round ${i + 1}: ${fmt(known)} ${fmt(fresh)}\n`);
      }
    }
  }
  console.log(
    `Roaming benchmark (median of ${ROUNDS}; time from the uplink change to the first successful GET)`,
  );
  console.log("scenario         resource   monitor on  monitor off   ratio");
  for (const [name, r] of Object.entries(results)) {
    for (const kind of ["known", "fresh"] as const) {
      const on = median(r.on[kind]);
      const off = median(r.off[kind]);
      console.log(
        `${name.padEnd(16)} ${(kind === "known" ? "known" : "new").padEnd(8)} ${fmt(on)}    ${fmt(off)}   ${(off / on).toFixed(1).padStart(5)}x`,
      );
    }
  }
} finally {
  await stack.destroy();
}
