// One member reconnecting as fast as it can must not lock the others out: other members and root
// keep getting `firezonectl status` answered, and the daemon's open descriptors stay bounded.
// Real users (useradd), the compiled firezoned and firezonectl.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { DEFAULT_LIMITS } from "../../lib/ipc/index.ts";
import { FIREZONECTL } from "../_support/build.ts";
import { startDaemon, type TestDaemon } from "../_support/daemon.ts";
import { stageBun, stageScript } from "../_support/stage.ts";
import { runAs, TestAccounts } from "../_support/users.ts";

const accounts = new TestAccounts();
let daemon: TestDaemon;
let flooder: string;
let other: string;

function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

beforeAll(async () => {
  const group = accounts.group();
  flooder = accounts.user(undefined, [group]);
  other = accounts.user(undefined, [group]);
  daemon = await startDaemon(group);
});

afterAll(async () => {
  await daemon?.stop();
  accounts.cleanup();
});

describe("a member flooding the socket with connections", () => {
  test("another member's and root's status succeed every time, and the daemon's descriptors stay bounded", async () => {
    const baseline = openFds(daemon.proc.pid);
    const env = { FIREZONE_SOCKET: daemon.socketPath };
    // The flooder may hold as many descriptors as it likes; only the daemon's side is bounded.
    const flood = runAs(flooder, [
      "sh",
      "-c",
      `ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"`,
      stageBun(),
      stageScript(`${import.meta.dir}/fixtures/flood.ts`),
      daemon.socketPath,
      "8",
    ]);
    await Bun.sleep(1500);
    let maxFds = 0;
    const results: { who: string; code: number; err: string }[] = [];
    for (let i = 0; i < 12; i++) {
      maxFds = Math.max(maxFds, openFds(daemon.proc.pid));
      const asOther = await runAs(other, [FIREZONECTL, "status", "--json"], env);
      results.push({ who: "member", code: asOther.code, err: asOther.stderr });
      const asRoot = Bun.spawnSync([FIREZONECTL, "status", "--json"], { env });
      results.push({ who: "root", code: asRoot.exitCode ?? -1, err: asRoot.stderr.toString() });
      maxFds = Math.max(maxFds, openFds(daemon.proc.pid));
      await Bun.sleep(250);
    }
    const flooded = await flood;
    const { opened } = JSON.parse(flooded.stdout.trim().split("\n").at(-1) ?? "{}") as { opened: number };

    console.log(
      `flood: ${opened} connections in 8 s; daemon fds ${baseline} before, at most ${maxFds} during`,
    );
    expect(results.filter((r) => r.code !== 0)).toEqual([]);
    // The flood was real: far more connections than the limits admit in that time.
    expect(opened).toBeGreaterThan(2000);
    // What one uid can make the daemon hold: its admitted connections plus its lingering refusals
    // (capped per uid), plus the few connections of this test's own status calls.
    const bound = baseline + DEFAULT_LIMITS.maxConnectionsPerUid + DEFAULT_LIMITS.maxLingeringPerUid + 16;
    expect(maxFds).toBeLessThanOrEqual(bound);
    expect(daemon.proc.exitCode).toBeNull();
  });

  test("the refusals were logged a handful of times with a count, not once per connection", () => {
    const lines = daemon.stderr().split("\n");
    const refusals = lines.filter((l) => l.includes("refused connection"));
    expect(refusals.length).toBeGreaterThan(0);
    expect(refusals.length).toBeLessThan(50);
  });
});
