// A portal that accepts the join and then drops the connection, for ever (a broken portal, or a
// proxy with a short idle timeout): the client must retry on its growing backoff schedule, not
// every few hundred milliseconds as it would if a join alone counted as success.
import { afterEach, expect, test } from "bun:test";
import type { PortalClient } from "../../lib/portal/index.ts";
import { newClient, next, on } from "./_helpers.ts";

const clients: PortalClient[] = [];
let server: ReturnType<typeof Bun.serve> | undefined;

afterEach(() => {
  for (const c of clients.splice(0)) c.stop();
  server?.stop(true);
});

/** A real WebSocket server on loopback that answers phx_join with ok, then closes at once. */
function flappingPortal(): { url: string; accepted: () => number } {
  let accepted = 0;
  server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req, srv) {
      if (srv.upgrade(req, { data: undefined })) return undefined;
      return new Response("expected a WebSocket", { status: 400 });
    },
    websocket: {
      message(ws, data) {
        const frame = JSON.parse(String(data)) as { topic: string; event: string; ref: string };
        if (frame.event !== "phx_join") return;
        accepted++;
        ws.send(
          JSON.stringify({
            topic: frame.topic,
            event: "phx_reply",
            ref: frame.ref,
            payload: { status: "ok", response: {} },
          }),
        );
        ws.close(1011, "going away");
      },
    },
  });
  return { url: `ws://127.0.0.1:${server.port}`, accepted: () => accepted };
}

test("accept-then-close for ever: every retry delay follows the schedule, it never starts over", async () => {
  const portal = flappingPortal();
  const backoff = { initialMs: 40, maxMs: 320 };
  const c = newClient(clients, {
    url: portal.url,
    token: "flapping-token",
    deviceId: "device-flapping",
    backoff,
  });
  const delays: number[] = [];
  c.on("disconnected", ({ retryInMs }) => delays.push(retryInMs));
  c.start();
  // Enough disconnections to pass the cap several times.
  while (delays.length < 10) await next(on(c, "disconnected"), 5000, "the next drop");
  c.stop();

  // Retry i waits within [base/2, base] of base = min(max, initial * 2^i): the join never reset it.
  for (const [i, d] of delays.entries()) {
    const base = Math.min(backoff.maxMs, backoff.initialMs * 2 ** i);
    expect(d).toBeGreaterThanOrEqual(base / 2);
    expect(d).toBeLessThanOrEqual(base);
  }
  expect(portal.accepted()).toBeGreaterThanOrEqual(10);
  // The number of joins the portal saw is the number of retries the schedule allows.
  expect(portal.accepted()).toBeLessThanOrEqual(delays.length + 1);
});

test("a connection that stays up past stableAfterMs resets the schedule", async () => {
  let joins = 0;
  server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (req, srv) =>
      srv.upgrade(req, { data: undefined }) ? undefined : new Response("", { status: 400 }),
    websocket: {
      message(ws, data) {
        const frame = JSON.parse(String(data)) as { topic: string; event: string; ref: string };
        if (frame.event !== "phx_join") return;
        joins++;
        ws.send(
          JSON.stringify({
            topic: frame.topic,
            event: "phx_reply",
            ref: frame.ref,
            payload: { status: "ok", response: {} },
          }),
        );
        // The first three drop at once; the fourth stays up past stableAfterMs before it drops.
        if (joins <= 3) ws.close(1011, "going away");
        else setTimeout(() => ws.close(1011, "going away"), 400);
      },
    },
  });
  const c = newClient(clients, {
    url: `ws://127.0.0.1:${server.port}`,
    token: "flapping-token",
    deviceId: "device-stable",
    backoff: { initialMs: 40, maxMs: 10_000 },
    stableAfterMs: 150,
  });
  const delays: number[] = [];
  c.on("disconnected", ({ retryInMs }) => delays.push(retryInMs));
  c.start();
  while (delays.length < 4) await next(on(c, "disconnected"), 5000, "the next drop");
  c.stop();
  expect(delays[2]).toBeGreaterThanOrEqual(80); // third step: base 160
  expect(delays[3]).toBeLessThanOrEqual(40); // back to the first step after a stable connection
});
