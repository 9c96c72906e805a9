// Session benchmark (run as root: bun run bench:session), on the devstack world in namespaces:
//   - sign-in: `firezonectl sign-in` to the first successful TCP connection (HTTP GET) to a resource
//   - recovery after a portal restart and after a gateway restart (kill -9, start again)
// Each figure sits next to a floor measured in the same run: the same GET through a tunnel that
// is already up, so the ratio shows what the session itself costs.
import { Stack } from "../tests/_support/stack.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (ms: number) => `${ms.toFixed(0).padStart(6)} ms`;

const stack = await Stack.create();
try {
  const web = stack.seed.web.address;
  const signIn: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const { token } = stack.store((s) => s.createClientToken(stack.seed.aliceId));
    signIn.push(
      await time(async () => {
        const r = await stack.ctl(["sign-in", "--token-stdin"], token);
        if (r.code !== 0) throw new Error(r.err);
        await stack.waitForFetch(web, 20_000);
      }),
    );
    if (i < ROUNDS - 1) await stack.ctl(["sign-out"]);
  }
  const floor: number[] = [];
  for (let i = 0; i < 10; i++) floor.push(await time(() => stack.waitForFetch(web, 5000)));

  const portal: number[] = [];
  const gateway: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    await Stack.kill(stack.portal, "SIGKILL");
    await stack.waitForState("reconnecting", 30_000);
    portal.push(
      await time(async () => {
        await stack.startPortal();
        await stack.waitForState("connected", 60_000);
        await stack.waitForFetch(web, 20_000);
      }),
    );
    await Stack.kill(stack.gateway, "SIGKILL");
    gateway.push(
      await time(async () => {
        await stack.startGateway();
        await stack.waitForFetch(web, 60_000);
      }),
    );
  }
  const f = median(floor);
  console.log(
    `Session benchmark (median of ${ROUNDS}; floor = GET through a tunnel already up, median of 10)`,
  );
  console.log(`floor: GET through the tunnel      ${fmt(f)}`);
  console.log(
    `sign-in -> first TCP to resource   ${fmt(median(signIn))}  | ratio to floor ${(median(signIn) / f).toFixed(1)}`,
  );
  console.log(
    `portal restart -> traffic again    ${fmt(median(portal))}  (portal start included; the tunnel kept carrying traffic meanwhile)`,
  );
  console.log(`gateway restart -> traffic again   ${fmt(median(gateway))}  (gateway start included)`);
} finally {
  await stack.destroy();
}
