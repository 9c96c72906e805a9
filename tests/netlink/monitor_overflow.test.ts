// The monitor's overflow path on the real kernel: a burst of notifications larger than the
// notification socket's receive buffer makes the kernel drop notifications (ENOBUFS on the next
// read). The monitor must say so, open a new socket, and go on reporting; the network watch counts
// the loss as a change; and the daemon, with the same small buffer, keeps serving. Everything runs
// in a network namespace this test creates; a small buffer (FIREZONE_NETWORK_MONITOR_BUFFER, or the
// monitor's receiveBufferBytes) makes the overflow certain rather than a matter of machine speed.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { capture } from "../../devstack/shared/capture.ts";
import { Lines, spawnInNs } from "../../devstack/shared/netns.ts";
import { BUN } from "../_support/build.ts";
import { ctl } from "../_support/ctl.ts";
import { startDaemon, type TestDaemon, waitFor } from "../_support/daemon.ts";

const isRoot = process.getuid?.() === 0;
const NS = `fzmo${process.pid}`;
const PROBE = join(import.meta.dir, "fixtures/monitor_probe.ts");
/** Requested SO_RCVBUF: the kernel doubles it; a few notifications fit, a burst does not. */
const SMALL_BUFFER = 8192;

const ip = async (...args: string[]) => {
  const r = await capture(["ip", "-n", NS, ...args]);
  if (r.code !== 0) throw new Error(`ip ${args.join(" ")}: ${r.err}`);
};

/** Adds `count` addresses to u0 (by one `ip -batch`, at the pace of its acks). */
async function addAddresses(count: number): Promise<void> {
  const lines: string[] = [];
  for (let i = 0; i < count; i++) lines.push(`addr add 10.1.${i >> 8}.${i & 255}/32 dev u0`);
  const r = await capture(["ip", "-n", NS, "-batch", "-"], { stdin: `${lines.join("\n")}\n` });
  if (r.code !== 0) throw new Error(`ip -batch: ${r.err}`);
}

/**
 * The burst: u0 with 3,000 addresses is deleted, and the kernel sends a removal for each address
 * and its local route in one operation, far faster than any reader drains them. Then u0 is made
 * again, bare and up.
 */
async function burst(): Promise<void> {
  await addAddresses(3000);
  await ip("link", "del", "u0");
  await makeUplink();
}

async function makeUplink(): Promise<void> {
  await ip("link", "add", "u0", "type", "veth", "peer", "name", "u0p");
  await ip("link", "set", "u0", "up");
  await ip("link", "set", "u0p", "up");
}

/** Resolves once `size()` has not grown for 700 ms: the burst and its aftermath are over. */
async function quiet(size: () => number): Promise<void> {
  let seen = -1;
  while (seen !== size()) {
    seen = size();
    await Bun.sleep(700);
  }
}

describe.skipIf(!isRoot)("notifications lost to a full socket buffer", () => {
  beforeAll(async () => {
    await capture(["ip", "netns", "add", NS]);
    await ip("link", "set", "lo", "up");
    await makeUplink();
  });

  afterAll(async () => {
    await capture(["ip", "netns", "del", NS]);
  });

  test("the monitor reports the loss, reopens its socket and reports the next change", async () => {
    const proc = spawnInNs(NS, [BUN, PROBE, String(SMALL_BUFFER)]);
    const out = new Lines(proc.stdout as ReadableStream<Uint8Array>);
    try {
      await out.next(/"ready"/, 15_000);
      const parsed = () => out.all.map((l) => JSON.parse(l) as { lost?: string; change?: string[] });
      await burst();
      await waitFor(
        () => parsed().some((e) => e.change?.includes("network notifications were lost")),
        10_000,
        "a change for lost notifications",
      ).catch((e) => {
        throw new Error(`${e.message}; the monitor printed:\n${out.all.join("\n")}`);
      });
      const lost = parsed().filter((e) => e.lost !== undefined);
      expect(lost.length).toBeGreaterThan(0);
      expect(lost[0]!.lost).toMatch(/ENOBUFS/);
      // Once the burst is over, the monitor has its new socket.
      await quiet(() => out.all.length);
      // A small change on the new socket: reported as itself, not as another loss.
      await ip("addr", "add", "192.0.2.9/24", "dev", "u0");
      await waitFor(
        () => parsed().some((e) => e.change?.includes("address 192.0.2.9/24 added on u0")),
        10_000,
        "the address change to be reported after the reopen",
      );
      expect(proc.exitCode).toBeNull();
    } finally {
      proc.kill();
      await proc.exited;
      await ip("link", "del", "u0");
      await makeUplink();
    }
  }, 60_000);

  test("firezoned with a small monitor buffer: the loss is logged as a change, and it keeps serving", async () => {
    let daemon: TestDaemon | undefined;
    try {
      daemon = await startDaemon(
        "root",
        { FIREZONE_NETWORK_MONITOR_BUFFER: String(SMALL_BUFFER), FIREZONE_LOG_LEVEL: "debug" },
        { wrap: ["ip", "netns", "exec", NS] },
      );
      const d = daemon;
      await waitFor(
        () => d.stderr().includes(`following the network's changes buffer=${SMALL_BUFFER}`),
        15_000,
        "firezoned's network monitor to start",
      );
      await burst();
      await waitFor(
        () => d.stderr().includes("network notifications were lost; re-reading the network"),
        10_000,
        "the daemon to notice the loss",
      );
      // Signed out, so the reset has nothing to do; the trigger still went through the reset path.
      await waitFor(
        () =>
          /nothing to reset cause="network changed" detail=".*network notifications were lost/.test(
            d.stderr(),
          ),
        10_000,
        "the loss to reach the reset path",
      );
      expect(d.proc.exitCode).toBeNull();
      const status = await ctl(d.socketPath, ["status", "--json"]);
      expect(status.code).toBe(0);
      expect(JSON.parse(status.out).state).toBe("signed_out");
      // The monitor still follows the kernel: the next small change is seen as itself.
      await quiet(() => d.stderr().length);
      await ip("addr", "add", "192.0.2.10/24", "dev", "u0");
      await waitFor(
        () => d.stderr().includes('reason="address 192.0.2.10/24 added on u0"'),
        10_000,
        "the daemon to see the change after the loss",
      );
      expect(d.proc.exitCode).toBeNull();
    } finally {
      const code = await daemon?.stop();
      if (daemon) expect(code).toBe(0);
    }
  }, 90_000);
});
