// A laptop's day, end to end: the real portal, gateway and compiled firezoned in network
// namespaces. The client's uplink gets a new address, goes down and up, is replaced by a second
// uplink, and the way out turns into a black hole for two minutes; SIGHUP resets the session; logind
// announces a wake-up on a private system bus (and a forger sends the same signal). Each time traffic
// to the resource flows again, and one TCP connection through the tunnel, opened at the start, keeps
// echoing: the device, its addresses and routes stay in place through every reset.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { capture } from "../../devstack/shared/capture.ts";
import { inNs } from "../../devstack/shared/netns.ts";
import type { Proc } from "../../devstack/world.ts";
import { buildMenu } from "../../lib/gui/menu.ts";
import { initialView, tooltip } from "../../lib/gui/tray_view.ts";
import { BUN } from "../_support/build.ts";
import { addSecondUplink } from "../_support/second_uplink.ts";
import { Stack } from "../_support/stack.ts";
import { startSystemBus } from "../_support/system_bus.ts";

const canRun =
  process.getuid?.() === 0 &&
  Bun.which("wireguard-go") !== null &&
  Bun.which("nft") !== null &&
  Bun.which("dbus-daemon") !== null;

const FAKE_LOGIND = join(import.meta.dir, "../daemon/fixtures/fake_logind.ts");
const ECHO_PORT = 7007;

let stack: Stack;
let echo: Proc;
let bus: Bun.Subprocess;
let busAddress: string;

interface RoamStatus {
  state: string;
  lastError?: string;
  lastReset?: { cause: string; at: string };
  reconnectCause?: string;
}

const status = async () => (await stack.status()) as unknown as RoamStatus;
const cli = (...args: string[]) => inNs(stack.world.client, args);
const hub = (...args: string[]) => inNs(stack.world.hub, args);

async function until(what: string, fn: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(100);
  }
}

/** Reset lines in the daemon's log; the logger quotes a value only when it has spaces. */
const resets = (cause: string) =>
  stack.daemon!.err.all.filter(
    (l) => l.includes("session reset") && (l.includes(`cause="${cause}" `) || l.includes(`cause=${cause} `)),
  ).length;

/** The long-lived connection answered a ping sent after this moment. */
async function echoResumes(timeoutMs: number): Promise<void> {
  const from = echo.out.all.length;
  await until(
    "the long-lived TCP connection to echo again",
    () => echo.out.all.slice(from).some((l) => l.startsWith("echo ")),
    timeoutMs,
  );
  expect(echo.out.all.filter((l) => l.startsWith("closed"))).toEqual([]);
}

async function tunIndex(): Promise<number> {
  return ((await stack.clientIp(["link", "show", "dev", stack.tun])) as Array<{ ifindex: number }>)[0]!
    .ifindex;
}

/** After a change: one more reset with `cause`, connected again, and the resource answers. */
async function recovers(cause: string, before: number, timeoutMs = 20_000): Promise<void> {
  await until(`a reset with cause ${cause}`, () => resets(cause) > before, timeoutMs).catch((e) => {
    throw new Error(`${e.message}; the daemon's last lines:\n${stack.daemon!.err.all.slice(-15).join("\n")}`);
  });
  await stack.waitForState("connected", timeoutMs);
  expect(await stack.waitForFetch(stack.seed.web.address, timeoutMs)).toContain("hello from web");
  const st = await status();
  expect(st.lastReset?.cause).toBe(cause);
  expect(st.reconnectCause).toBeUndefined();
}

describe.skipIf(!canRun)("a laptop's day", () => {
  beforeAll(async () => {
    stack = await Stack.create();
    // A private system-style bus the daemon is pointed at; logind itself cannot run here.
    const dir = join(stack.tmp, "bus");
    mkdirSync(dir, { recursive: true });
    ({ address: busAddress, proc: bus } = await startSystemBus(dir));
    await Stack.kill(stack.daemon);
    await stack.startDaemon({ DBUS_SYSTEM_BUS_ADDRESS: busAddress, FIREZONE_LOG_LEVEL: "debug" });
    const token = stack.store((s) => s.createClientToken(stack.seed.aliceId));
    expect((await stack.ctl(["sign-in", "--token-stdin"], `${token.token}\n`)).code).toBe(0);
    await stack.waitForState("connected", 15_000);
    await stack.waitForFetch(stack.seed.web.address, 15_000);
    // The long-lived connection: an echo server behind the gateway, a client pinging it every 250 ms.
    stack.dev.start("echo-server", stack.world.resource, [
      BUN,
      "-e",
      `Bun.listen({ hostname: "0.0.0.0", port: ${ECHO_PORT}, socket: { data(s, d) { s.write(d); } } }); console.log("listening");`,
    ]);
    await Bun.sleep(500);
    echo = stack.dev.start("echo-client", stack.world.client, [
      BUN,
      "-e",
      `let n = 0, buf = "";
       const s = await Bun.connect({ hostname: "${stack.seed.web.address}", port: ${ECHO_PORT}, socket: {
         data(_s, d) { buf += d.toString(); const lines = buf.split("\\n"); buf = lines.pop(); for (const l of lines) console.log("echo " + l); },
         close() { console.log("closed"); process.exit(1); },
         error(_s, e) { console.log("closed " + e); process.exit(1); },
       } });
       setInterval(() => s.write("ping " + n++ + "\\n"), 250);`,
    ]);
    await echoResumes(10_000);
  }, 180_000);

  afterAll(async () => {
    bus?.kill();
    await stack?.destroy();
  });

  test("a new uplink address: the session resets at once and the resource answers again", async () => {
    const before = resets("network changed");
    const index = await tunIndex();
    await cli("ip", "addr", "del", "10.77.1.2/24", "dev", "to-hub");
    await cli("ip", "addr", "add", "10.77.1.3/24", "dev", "to-hub");
    await cli("ip", "route", "replace", "default", "via", "10.77.1.1");
    await recovers("network changed", before);
    await echoResumes(30_000);
    expect(await tunIndex()).toBe(index);
    // The gateway follows the client to its new address (its first packet from there).
    await until("the gateway's peer at the new address", async () =>
      (await inNs(stack.world.gateway, ["wg", "show", `g${stack.tun}`.slice(0, 15), "endpoints"])).includes(
        "10.77.1.3:",
      ),
    );
  }, 90_000);

  test("the uplink goes down and up: one reset when it comes back, traffic resumes", async () => {
    const before = resets("network changed");
    await cli("ip", "link", "set", "to-hub", "down");
    await Bun.sleep(1500);
    await cli("ip", "link", "set", "to-hub", "up");
    // What DHCP or NetworkManager does when the link is back: the default route again.
    await until("the uplink's carrier", async () =>
      (await cli("ip", "link", "show", "to-hub")).includes("LOWER_UP"),
    );
    await cli("ip", "route", "replace", "default", "via", "10.77.1.1");
    await recovers("network changed", before);
    await echoResumes(30_000);
  }, 90_000);

  test("the default route moves to a second uplink: traffic resumes over it", async () => {
    await addSecondUplink(stack.world);
    await Bun.sleep(1500);
    const before = resets("network changed");
    await cli("ip", "route", "replace", "default", "via", "10.77.3.1", "dev", "to-hub2");
    await cli("ip", "link", "set", "to-hub", "down");
    await recovers("network changed", before);
    await echoResumes(30_000);
    await until("the gateway's peer at the second uplink's address", async () =>
      (await inNs(stack.world.gateway, ["wg", "show", `g${stack.tun}`.slice(0, 15), "endpoints"])).includes(
        "10.77.3.2:",
      ),
    );
  }, 90_000);

  test("SIGHUP resets the session without dropping the TUN device", async () => {
    const before = resets("SIGHUP");
    const index = await tunIndex();
    const pid = stack.daemon!.proc.pid;
    process.kill(pid, "SIGHUP");
    await recovers("SIGHUP", before);
    expect(stack.daemon!.proc.exitCode).toBeNull();
    expect((await status()).state).toBe("connected");
    expect(await tunIndex()).toBe(index);
    await echoResumes(30_000);
    const text = (await stack.ctl(["status"])).out;
    expect(text).toMatch(/Last reset:\s+SIGHUP, \d{4}-\d\d-\d\dT/);
  }, 60_000);

  test("logind's wake-up resets the session; the same signal from another connection is refused", async () => {
    const logind = stack.dev.start("fake-logind", stack.world.client, [
      BUN,
      FAKE_LOGIND,
      busAddress,
      "--own",
    ]);
    await logind.out.next(/^ready :/, 15_000);
    // The forger first: a plain client sending PrepareForSleep(false) from the same path.
    const forgedBefore = resets("woke from sleep");
    const forged = await capture(["ip", "netns", "exec", stack.world.client, BUN, FAKE_LOGIND, busAddress]);
    expect(forged.code).toBe(0);
    const forger = forged.out.match(/^sent (:\S+)/m)?.[1];
    expect(forger).toBeDefined();
    await until("the daemon to refuse the forged signal", () =>
      stack.daemon!.err.all.some((l) => l.includes("refused a PrepareForSleep") && l.includes(forger!)),
    );
    expect(resets("woke from sleep")).toBe(forgedBefore);
    // Now logind itself: sleep, then wake.
    const before = resets("woke from sleep");
    logind.proc.kill("SIGUSR1");
    await recovers("woke from sleep", before);
    expect(stack.daemon!.err.all.some((l) => l.includes("the machine is going to sleep"))).toBe(true);
    await echoResumes(30_000);
  }, 60_000);

  test("a two-minute black hole, then recovery: traffic resumes and the long-lived connection survives", async () => {
    // Everything from and to the client is dropped at the hub: no link or route changes on the
    // client, so nothing tells it; the portal connection dies by its heartbeat and is retried.
    await hub("nft", "add table inet blackhole");
    for (const [chain, hook, dir] of [
      ["in", "prerouting", "iifname"],
      ["out", "postrouting", "oifname"],
    ] as const) {
      await hub("nft", `add chain inet blackhole ${chain} { type filter hook ${hook} priority -300; }`);
      await hub("nft", `add rule inet blackhole ${chain} ${dir} { "to-client", "to-client2" } drop`);
    }
    await stack.waitForState("reconnecting", 30_000);
    expect(await stack.fetchFromClient(stack.seed.web.address, 2000)).toBeNull();
    // A reset while the portal cannot be reached: its cause stays in status until the portal is back.
    process.kill(stack.daemon!.proc.pid, "SIGHUP");
    await until("the reset's cause in status", async () => (await status()).reconnectCause === "SIGHUP");
    const text = (await stack.ctl(["status"])).out;
    expect(text.split("\n")[0]).toStartWith("Reconnecting (SIGHUP)");
    const st = (await stack.ctl(["status", "--json"])).out;
    const view = { ...initialView, link: "up" as const, status: JSON.parse(st) };
    expect(tooltip(view).title).toBe("Firezone: Reconnecting (SIGHUP)");
    expect(tooltip(view).body).toMatch(/^Last reset: SIGHUP, \d{4}-/);
    expect(JSON.stringify(buildMenu(view))).toContain("Reconnecting (SIGHUP)...");
    await Bun.sleep(120_000 - 30_000);
    await hub("nft", "delete table inet blackhole");
    await stack.waitForState("connected", 60_000);
    expect((await status()).reconnectCause).toBeUndefined();
    expect(await stack.waitForFetch(stack.seed.web.address, 60_000)).toContain("hello from web");
    // TCP's retransmissions back off to about a minute apart after two minutes of silence.
    await echoResumes(150_000);
  }, 330_000);
});
