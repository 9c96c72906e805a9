// The portal side of a session reset: PhoenixChannel.reconnect() dials at once with the backoff
// started over, whether it was waiting out a long delay or was connected; it does nothing once
// stopped or refused. An injected clock and socket, as tests/portal/channel.test.ts, so the delays
// are checked without waiting on real time (the real portal is in tests/e2e/roam.test.ts).
import { expect, test } from "bun:test";
import { fakeChannel } from "../_support/fake_channel.ts";

test("waiting out a long backoff, a reset dials at once and the next failure waits the shortest delay again", () => {
  const { clock, sockets, log, channel } = fakeChannel();
  channel.start();
  for (let i = 0; i < 6; i++) {
    sockets.at(-1)!.fail();
    clock.advance(60_000);
  }
  sockets.at(-1)!.fail();
  const waited = log.filter((l) => l.startsWith("disconnected ")).map((l) => Number(l.split(" ").at(-1)));
  expect(waited.at(-1)).toBeGreaterThanOrEqual(16_000);
  const before = sockets.length;
  channel.reconnect("network changed");
  expect(sockets.length).toBe(before + 1);
  expect(log.at(-1)).toBe("connecting 0");
  sockets.at(-1)!.fail();
  expect(log.at(-1)).toBe("disconnected connection failed: connection refused 500");
  // The long wait that was pending was cancelled: no extra dial when it would have expired.
  clock.advance(400);
  expect(sockets.length).toBe(before + 1);
  channel.stop();
});

test("a connected channel drops its socket and dials again at once", () => {
  const { sockets, channel } = fakeChannel();
  channel.start();
  const first = sockets[0]!;
  channel.reconnect("SIGHUP");
  expect(first.closed).toBe(1000);
  expect(first.onmessage).toBeNull();
  expect(sockets).toHaveLength(2);
  channel.stop();
});

test("a stopped channel, or one whose token was refused, is not dialled again", () => {
  const { sockets, channel } = fakeChannel();
  channel.start();
  channel.stop();
  channel.reconnect("network changed");
  expect(sockets).toHaveLength(1);
  const refused = fakeChannel();
  refused.channel.start();
  refused.sockets[0]!.onclose?.({ code: 4001, reason: "expired" } as CloseEvent);
  refused.channel.reconnect("network changed");
  expect(refused.sockets).toHaveLength(1);
  expect(refused.log).toContain("terminal expired");
});
