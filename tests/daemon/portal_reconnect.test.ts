// The portal side of a session reset: PhoenixChannel.reconnect() dials at once with the backoff
// started over, whether it was waiting out a long delay or was connected; it does nothing once
// stopped or refused. An injected clock and socket, as tests/portal/channel.test.ts, so the delays
// are checked without waiting on real time (the real portal is in tests/e2e/roam.test.ts).
import { expect, test } from "bun:test";
import { PhoenixChannel, type SocketLike } from "../../lib/portal/index.ts";
import type { Clock } from "../../lib/util/index.ts";

class FakeClock implements Clock {
  t = 0;
  #timers: Array<{ at: number; fn: () => void; id: number }> = [];
  #id = 0;
  now = () => this.t;
  setTimeout = (fn: () => void, ms: number) => {
    this.#timers.push({ at: this.t + ms, fn, id: ++this.#id });
    return this.#id;
  };
  clearTimeout = (id: unknown) => {
    this.#timers = this.#timers.filter((x) => x.id !== id);
  };
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      this.#timers.sort((a, b) => a.at - b.at);
      const due = this.#timers[0];
      if (!due || due.at > end) break;
      this.#timers.shift();
      this.t = due.at;
      due.fn();
    }
    this.t = end;
  }
}

class FakeSocket implements SocketLike {
  onopen: ((ev: Event) => void) | null = null;
  onmessage: ((ev: MessageEvent) => void) | null = null;
  onclose: ((ev: CloseEvent) => void) | null = null;
  onerror: ((ev: Event) => void) | null = null;
  closed: number | undefined;
  send(): void {}
  close(code?: number): void {
    this.closed = code ?? 1000;
  }
  fail(): void {
    this.onerror?.({ message: "connection refused" } as unknown as Event);
  }
}

function setup() {
  const clock = new FakeClock();
  const sockets: FakeSocket[] = [];
  const log: string[] = [];
  const channel = new PhoenixChannel(
    {
      url: "ws://portal.invalid/client/websocket",
      token: "tok",
      topic: "client",
      joinPayload: () => ({}),
      clock,
      random: () => 0.999999,
      createSocket: () => {
        const s = new FakeSocket();
        sockets.push(s);
        return s;
      },
    },
    {
      connecting: (n) => log.push(`connecting ${n}`),
      joined: () => log.push("joined"),
      event: () => {},
      disconnected: (_reason, ms) => log.push(`retry in ${Math.round(ms)}`),
      terminal: (r) => log.push(`terminal ${r}`),
    },
  );
  return { clock, sockets, log, channel };
}

test("waiting out a long backoff, a reset dials at once and the next failure waits the shortest delay again", () => {
  const { clock, sockets, log, channel } = setup();
  channel.start();
  for (let i = 0; i < 6; i++) {
    sockets.at(-1)!.fail();
    clock.advance(60_000);
  }
  sockets.at(-1)!.fail();
  const waited = log.filter((l) => l.startsWith("retry in")).map((l) => Number(l.split(" ")[2]));
  expect(waited.at(-1)).toBeGreaterThanOrEqual(16_000);
  const before = sockets.length;
  channel.reconnect("network changed");
  expect(sockets.length).toBe(before + 1);
  expect(log.at(-1)).toBe("connecting 0");
  sockets.at(-1)!.fail();
  expect(log.at(-1)).toBe("retry in 500");
  // The long wait that was pending was cancelled: no extra dial when it would have expired.
  clock.advance(400);
  expect(sockets.length).toBe(before + 1);
  channel.stop();
});

test("a connected channel drops its socket and dials again at once", () => {
  const { sockets, channel } = setup();
  channel.start();
  const first = sockets[0]!;
  channel.reconnect("SIGHUP");
  expect(first.closed).toBe(1000);
  expect(first.onmessage).toBeNull();
  expect(sockets).toHaveLength(2);
  channel.stop();
});

test("a stopped channel, or one whose token was refused, is not dialled again", () => {
  const { sockets, channel } = setup();
  channel.start();
  channel.stop();
  channel.reconnect("network changed");
  expect(sockets).toHaveLength(1);
  const refused = setup();
  refused.channel.start();
  refused.sockets[0]!.onclose?.({ code: 4001, reason: "expired" } as CloseEvent);
  refused.channel.reconnect("network changed");
  expect(refused.sockets).toHaveLength(1);
  expect(refused.log).toContain("terminal expired");
});
