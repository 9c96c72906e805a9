// PhoenixChannel with an injected clock and socket: heartbeat cadence, missed-heartbeat detection and
// the backoff between attempts, without waiting on real time.
import { expect, test } from "bun:test";
import { fakeChannel } from "../_support/fake_channel.ts";

test("the token goes in the X-Authorization header and a heartbeat leaves every 10 s", () => {
  const { clock, sockets, channel, join } = fakeChannel();
  channel.start();
  expect(sockets[0]!.headers).toEqual({ "X-Authorization": "Bearer tok-123" });
  const s = join();
  clock.advance(9_999);
  expect(s.sent.filter((f) => f.event === "heartbeat")).toHaveLength(0);
  clock.advance(1);
  const hb = s.sent.filter((f) => f.event === "heartbeat");
  expect(hb).toHaveLength(1);
  expect(hb[0]!.topic).toBe("phoenix");
  s.reply(hb[0]!.ref, "phoenix");
  clock.advance(10_000);
  expect(s.sent.filter((f) => f.event === "heartbeat")).toHaveLength(2);
  channel.stop();
});

test("an unanswered heartbeat drops the connection after 5 s and retries on the backoff schedule", () => {
  const { clock, sockets, log, channel, join } = fakeChannel();
  channel.start();
  const s = join();
  clock.advance(10_000 + 4_999);
  expect(s.closed).toBeUndefined();
  clock.advance(1);
  expect(s.closed).toBe(4000);
  expect(log.at(-1)).toBe("disconnected heartbeat timeout 500");
  clock.advance(499);
  expect(sockets).toHaveLength(1);
  clock.advance(1);
  expect(sockets).toHaveLength(2);
  // A failed attempt doubles the next delay; a join alone does not reset it: the connection dropped
  // 15 s after its join, before it counted as stable.
  sockets[1]!.onclose?.({ code: 1006, reason: "" } as CloseEvent);
  expect(log.at(-1)).toBe("disconnected connection closed (code 1006) 1000");
  clock.advance(1000);
  join();
  clock.advance(15_000);
  expect(log.at(-1)).toBe("disconnected heartbeat timeout 2000");
  channel.stop();
});

test("the backoff starts over only after a connection has stayed up for 30 s", () => {
  const { clock, sockets, log, channel, join } = fakeChannel();
  channel.start();
  // Three joins that each drop at once: 500, 1000, 2000.
  for (const delay of [500, 1000, 2000]) {
    const s = join();
    s.onclose?.({ code: 1006, reason: "" } as CloseEvent);
    expect(log.at(-1)).toBe(`disconnected connection closed (code 1006) ${delay}`);
    clock.advance(delay);
  }
  // This one stays up, its heartbeats answered, for 30 s; its loss is retried at the first step.
  const s = join();
  for (let i = 0; i < 3; i++) {
    clock.advance(10_000);
    const hb = s.sent.filter((f) => f.event === "heartbeat").at(-1)!;
    s.reply(hb.ref, "phoenix");
  }
  s.onclose?.({ code: 1006, reason: "" } as CloseEvent);
  expect(log.at(-1)).toBe("disconnected connection closed (code 1006) 500");
  expect(sockets).toHaveLength(4);
  channel.stop();
});

test("close code 4001 is terminal: no further attempt", () => {
  const { clock, sockets, log, channel, join } = fakeChannel();
  channel.start();
  const s = join();
  s.onclose?.({ code: 4001, reason: "revoked" } as CloseEvent);
  expect(log.at(-1)).toBe("terminal revoked");
  clock.advance(120_000);
  expect(sockets).toHaveLength(1);
  expect(channel.state).toBe("terminal");
});
