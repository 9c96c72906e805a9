// Session scope benchmark: what scope `user` (nftables rules on the tunnel's output path) costs
// against scope `system` (no rules), in the same run, the same stack and the same session, the
// scope switched between rounds with `firezonectl scope` as the owner would.
//   - iperf3 TCP throughput through the tunnel (client namespace -> resource behind the gateway),
//     as the owner, so scope `user` evaluates and passes every packet
//   - TCP connection set-up to the resource, COUNT connects one after another, as the owner
// Run as root: bun run bench:scope   (BENCH_SECONDS per iperf3 run, default 4; BENCH_ROUNDS,
// default 4; BENCH_CONNECTS per round, default 1000)
import { chmodSync } from "node:fs";
import { join } from "node:path";
import { capture } from "../devstack/shared/capture.ts";
import { FIREZONECTL } from "../tests/_support/build.ts";
import { Stack } from "../tests/_support/stack.ts";
import { stageBun, stageScript } from "../tests/_support/stage.ts";
import { TestAccounts } from "../tests/_support/users.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
const CONNECTS = Number(process.env.BENCH_CONNECTS ?? 1000);
type Scope = "user" | "system";

const accounts = new TestAccounts();
const group = accounts.group();
const owner = accounts.user(undefined, [group]);
const stack = await Stack.create();

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
};
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))] ?? Number.NaN;
};

async function ctl(args: string[], stdin?: string) {
  const r = await capture(
    ["runuser", "-u", owner, "--", "env", "-i", `FIREZONE_SOCKET=${stack.socket}`, FIREZONECTL, ...args],
    stdin === undefined ? {} : { stdin },
  );
  if (r.code !== 0) throw new Error(`firezonectl ${args.join(" ")}: ${r.err}`);
  return r.out;
}

async function asOwner(cmd: string[]): Promise<string> {
  const r = await capture(["ip", "netns", "exec", stack.world.client, "runuser", "-u", owner, "--", ...cmd]);
  if (r.code !== 0) throw new Error(`${cmd[0]} failed (${r.code}): ${r.err.slice(0, 400)}`);
  return r.out;
}

async function iperf(): Promise<number> {
  const out = await asOwner(["iperf3", "-c", stack.seed.web.address, "-t", String(SECONDS), "-O", "1", "-J"]);
  return JSON.parse(out).end.sum_received.bits_per_second / 1e9;
}

async function connects(): Promise<number[]> {
  const script = stageScript(join(import.meta.dir, "fixtures/connects.ts"));
  return JSON.parse(await asOwner([stageBun(), script, stack.seed.web.address, "80", String(CONNECTS)]));
}

try {
  await Stack.kill(stack.daemon);
  chmodSync(stack.tmp, 0o755);
  await stack.startDaemon({ FIREZONE_GROUP: group });
  stack.dev.start("iperf3", stack.world.resource, ["iperf3", "-s"]);
  const token = stack.store((s) => s.createClientToken(stack.seed.aliceId));
  await ctl(["sign-in", "--token-stdin"], `${token.token}\n`);
  await stack.waitForState("connected", 15_000);
  await stack.waitForFetch(stack.seed.web.address, 15_000);
  await Bun.sleep(500);

  const gbit: Record<Scope, number[]> = { user: [], system: [] };
  const connectUs: Record<Scope, number[]> = { user: [], system: [] };
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate which scope goes first: these machines are noisy and drift within a run.
    const order: Scope[] = round % 2 === 0 ? ["user", "system"] : ["system", "user"];
    for (const scope of order) {
      await ctl(["scope", scope]);
      gbit[scope].push(await iperf());
      connectUs[scope].push(...(await connects()));
    }
    console.error(
      `round ${round + 1}: user ${gbit.user.at(-1)?.toFixed(3)} Gbit/s, system ${gbit.system.at(-1)?.toFixed(3)} Gbit/s`,
    );
  }
  const tp = { user: median(gbit.user), system: median(gbit.system) };
  const c = (s: Scope) => ({
    p50: Math.round(median(connectUs[s])),
    p99: Math.round(pct(connectUs[s], 0.99)),
    mean: Math.round(connectUs[s].reduce((a, b) => a + b, 0) / connectUs[s].length),
  });
  const result = {
    rounds: ROUNDS,
    seconds: SECONDS,
    connectsPerRound: CONNECTS,
    throughputGbit: {
      user: +tp.user.toFixed(3),
      system: +tp.system.toFixed(3),
      ratio: +(tp.user / tp.system).toFixed(3),
    },
    connectUs: {
      user: c("user"),
      system: c("system"),
      ratioP50: +(c("user").p50 / c("system").p50).toFixed(3),
    },
  };
  console.log(JSON.stringify(result, null, 2));
} finally {
  await stack.destroy();
  accounts.cleanup();
}
