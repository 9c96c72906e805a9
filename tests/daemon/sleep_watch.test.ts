// Wake-ups: logind's PrepareForSleep on a real dbus-daemon (a private one with a system bus
// configuration, started here; logind itself needs to be systemd's and cannot run in a test), only
// from the connection that owns org.freedesktop.login1, also after that name changes hands; and the
// clock fallback, with clocks injected (a machine cannot be put to sleep from a test).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { capture } from "../../devstack/shared/capture.ts";
import { Lines } from "../../devstack/shared/netns.ts";
import { CLOCK_JUMP_MS, SleepWatch } from "../../lib/daemon/sleep_watch.ts";
import { createLogger } from "../../lib/util/index.ts";
import { BUN } from "../_support/build.ts";
import { startSystemBus } from "../_support/system_bus.ts";

const FAKE_LOGIND = join(import.meta.dir, "fixtures/fake_logind.ts");
const hasDbus = Bun.which("dbus-daemon") !== null;

function recordingLogger() {
  const lines: string[] = [];
  return { lines, logger: createLogger({ name: "sleep", level: "debug", write: (l) => lines.push(l) }) };
}

async function until(what: string, fn: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(20);
  }
}

describe.skipIf(!hasDbus)("logind's signals on a private system bus", () => {
  let dir: string;
  let bus: Bun.Subprocess;
  let address: string;
  const procs: Bun.Subprocess[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "fz-sleep-"));
    ({ address, proc: bus } = await startSystemBus(dir));
  });

  afterAll(() => {
    for (const p of procs) p.kill();
    bus?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A started SleepWatch on this bus that records its log lines and the wake-ups it reports. */
  async function watching() {
    const { lines, logger } = recordingLogger();
    const wakes: string[] = [];
    const watch = new SleepWatch({
      busPath: join(dir, "system_bus_socket"),
      logger,
      onWake: (how) => wakes.push(how),
    });
    await watch.start();
    return { lines, wakes, watch };
  }

  async function startLogind(): Promise<{ proc: Bun.Subprocess; name: string; out: Lines }> {
    const proc = Bun.spawn([BUN, FAKE_LOGIND, address, "--own"], { stdout: "pipe", stderr: "inherit" });
    procs.push(proc);
    const out = new Lines(proc.stdout as ReadableStream<Uint8Array>);
    const line = await out.next(/^ready :/, 15_000);
    return { proc, name: line.slice("ready ".length), out };
  }

  test("a wake-up from the name's owner is believed; the same signal from another connection is refused", async () => {
    const logind = await startLogind();
    const { lines, wakes, watch } = await watching();
    expect(watch.logindOwner).toBe(logind.name);
    const forged = await capture([BUN, FAKE_LOGIND, address]);
    expect(forged.code).toBe(0);
    const forger = forged.out.match(/^sent (:\S+)/m)![1]!;
    await until("the refusal", () =>
      lines.some((l) => l.includes("refused a PrepareForSleep") && l.includes(forger)),
    );
    expect(wakes).toEqual([]);
    logind.proc.kill("SIGUSR1");
    await logind.out.next(/^announced/);
    await until("the wake-up", () => wakes.length > 0);
    expect(wakes).toEqual(["logind"]);
    expect(lines.some((l) => l.includes("the machine is going to sleep"))).toBe(true);
    watch.stop();
    logind.proc.kill();
    await logind.proc.exited;
  });

  test("when logind restarts under a new unique name, the new one is believed and the old one is not", async () => {
    const first = await startLogind();
    const { wakes, watch } = await watching();
    expect(watch.logindOwner).toBe(first.name);
    first.proc.kill();
    await first.proc.exited;
    await until("the name to be released", () => watch.logindOwner === null);
    const second = await startLogind();
    await until("the new owner", () => watch.logindOwner === second.name);
    second.proc.kill("SIGUSR1");
    await second.out.next(/^announced/);
    await until("the wake-up", () => wakes.length > 0);
    watch.stop();
    second.proc.kill();
  });

  test("no bus at the configured path: the clock fallback runs and nothing throws", async () => {
    const { lines, logger } = recordingLogger();
    const watch = new SleepWatch({ busPath: join(dir, "no-such-socket"), logger, onWake: () => {} });
    await watch.start();
    expect(watch.logindOwner).toBeNull();
    expect(lines.some((l) => l.includes("no logind on the system bus"))).toBe(true);
    watch.stop();
  });
});

describe("the clock fallback", () => {
  function clocked() {
    let wall = 1_000_000;
    let mono = 5_000;
    const wakes: string[] = [];
    const watch = new SleepWatch({
      busPath: "/nonexistent/bus",
      logger: recordingLogger().logger,
      onWake: (how) => wakes.push(how),
      wallNow: () => wall,
      monotonicNow: () => mono,
      clockCheckMs: 10,
    });
    return {
      wakes,
      watch,
      advance: (wallMs: number, monoMs: number) => {
        wall += wallMs;
        mono += monoMs;
      },
    };
  }

  test("the wall clock running ahead of the monotonic one (the machine slept) is a wake-up", async () => {
    const c = clocked();
    await c.watch.start();
    c.advance(CLOCK_JUMP_MS + 60_000, 10);
    await Bun.sleep(50);
    expect(c.wakes).toEqual(["clock jump"]);
    c.watch.stop();
  });

  test("clocks running together, or the wall clock set back, are not", async () => {
    const c = clocked();
    await c.watch.start();
    c.advance(5_000, 5_000);
    await Bun.sleep(30);
    c.advance(-3_600_000, 10);
    await Bun.sleep(30);
    c.advance(CLOCK_JUMP_MS - 1000, 0);
    await Bun.sleep(30);
    expect(c.wakes).toEqual([]);
    c.watch.stop();
  });
});
