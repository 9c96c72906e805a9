// lib/portal's resilience against a real portal process: a restart, a frozen portal (missed
// heartbeats), and the portal closing a member that stopped sending heartbeats.
import { afterEach, beforeEach, expect, test } from "bun:test";
import type { PortalClient } from "../../lib/portal/index.ts";
import {
  freePort,
  newClient,
  newKey,
  next,
  on,
  type Seed,
  seed,
  spawnPortal,
  startAndInit,
  tempDir,
} from "./_helpers.ts";

let tmp: ReturnType<typeof tempDir>;
let s: Seed;
let port: number;
const procs: Bun.Subprocess[] = [];
const clients: PortalClient[] = [];

beforeEach(() => {
  tmp = tempDir();
  s = seed(tmp.db);
  port = freePort();
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.stop();
  for (const p of procs.splice(0)) {
    p.kill("SIGCONT");
    p.kill("SIGKILL");
    await p.exited;
  }
  tmp.cleanup();
});

async function portal(extra: string[] = []) {
  const p = await spawnPortal(tmp.db, port, extra);
  procs.push(p);
  return p;
}

function client(extra: Partial<ConstructorParameters<typeof PortalClient>[0]> = {}): PortalClient {
  return newClient(clients, {
    url: `ws://127.0.0.1:${port}`,
    token: s.aliceToken,
    deviceId: "device-reconnect-test",
    backoff: { initialMs: 100, maxMs: 400 },
    ...extra,
  });
}

test("after a portal restart the client reconnects by itself and gets a fresh init", async () => {
  const first = await portal();
  const c = client();
  const before = await startAndInit(c);

  const dropped = next(on(c, "disconnected"));
  first.kill("SIGTERM");
  await first.exited;
  await dropped;
  expect(c.state).toBe("reconnecting");
  await Bun.sleep(300); // a few failed attempts against a closed port

  const restarted = performance.now();
  const init2 = next(on(c, "init"), 10_000, "init after restart");
  await portal();
  const after = await init2;
  console.log(
    `portal restart -> client joined again: ${Math.round(performance.now() - restarted)} ms after the portal was up`,
  );
  expect(c.state).toBe("connected");
  expect(after.interface).toEqual(before.interface);
  expect(after.resources).toEqual(before.resources);
});

test("a frozen portal is noticed by the missed heartbeat, and the client rejoins when it thaws", async () => {
  const p = await portal();
  const c = client({ heartbeatIntervalMs: 200, heartbeatTimeoutMs: 300, connectTimeoutMs: 800 });
  await startAndInit(c);

  const dropped = next(on(c, "disconnected"), 3000, "heartbeat timeout");
  const frozen = performance.now();
  p.kill("SIGSTOP");
  const ev = await dropped;
  const noticed = performance.now() - frozen;
  console.log(`frozen portal noticed after ${Math.round(noticed)} ms (interval 200 ms, timeout 300 ms)`);
  expect(ev.reason).toBe("heartbeat timeout");
  expect(noticed).toBeLessThan(1500);

  const init2 = next(on(c, "init"), 10_000, "init after thaw");
  p.kill("SIGCONT");
  await init2;
  expect(c.state).toBe("connected");
});

test("the portal closes a member that stops sending heartbeats (code 4000)", async () => {
  await portal(["--idle-timeout-ms", "500"]);
  const ws = new WebSocket(`ws://127.0.0.1:${port}/client/websocket`, {
    headers: { "X-Authorization": `Bearer ${s.aliceToken}` },
  });
  const closed = new Promise<number>((resolve) => {
    ws.onclose = (ev) => resolve(ev.code);
  });
  ws.onopen = () =>
    ws.send(
      JSON.stringify({
        topic: "client",
        event: "phx_join",
        payload: { public_key: newKey(), external_id: "device-silent-1" },
        ref: "1",
      }),
    );
  const started = performance.now();
  expect(await closed).toBe(4000);
  expect(performance.now() - started).toBeLessThan(2000);
});

test("a portal that accepts TCP but never answers the upgrade is given up on after the connect timeout", async () => {
  let accepted = 0;
  const silent = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open() {
        accepted++;
      },
      data() {},
    },
  });
  const c = client({ url: `ws://127.0.0.1:${silent.port}`, connectTimeoutMs: 300 });
  const dropped = next(on(c, "disconnected"), 3000, "connect timeout");
  const started = performance.now();
  c.start();
  const ev = await dropped;
  expect(ev.reason).toBe("connect timeout");
  expect(performance.now() - started).toBeLessThan(1000);
  await next(on(c, "connecting"), 3000, "a second attempt");
  expect(accepted).toBeGreaterThanOrEqual(1);
  c.stop();
  silent.stop(true);
});
