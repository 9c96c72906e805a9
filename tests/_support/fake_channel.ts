// A PhoenixChannel on an injected clock and socket, so that heartbeats, timeouts and backoff delays
// are checked without waiting on real time (the real portal is exercised in tests/e2e/).
import { PhoenixChannel, type SocketLike } from "../../lib/portal/index.ts";
import type { Clock } from "../../lib/util/index.ts";

/** Runs timers only when told to, in the order they fall due. */
export class FakeClock implements Clock {
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

/** Records what the channel sends; the test plays the portal's side by hand. */
export class FakeSocket implements SocketLike {
  onopen: ((ev: Event) => void) | null = null;
  onmessage: ((ev: MessageEvent) => void) | null = null;
  onclose: ((ev: CloseEvent) => void) | null = null;
  onerror: ((ev: Event) => void) | null = null;
  sent: Array<{ topic: string; event: string; ref: string }> = [];
  closed: number | undefined;
  constructor(readonly headers: Record<string, string> = {}) {}
  send(data: string): void {
    this.sent.push(JSON.parse(data));
  }
  close(code?: number): void {
    this.closed = code ?? 1000;
  }
  reply(ref: string, topic = "client"): void {
    const data = JSON.stringify({ topic, event: "phx_reply", ref, payload: { status: "ok", response: {} } });
    this.onmessage?.({ data } as MessageEvent);
  }
  fail(): void {
    this.onerror?.({ message: "connection refused" } as unknown as Event);
  }
}

/**
 * A channel whose sockets are FakeSockets (newest last) and whose callbacks append to `log`
 * ("connecting N", "joined", "event E", "disconnected REASON MS", "terminal R"). `random` is pinned
 * so the backoff delays are exact.
 */
export function fakeChannel(token = "tok-123") {
  const clock = new FakeClock();
  const sockets: FakeSocket[] = [];
  const log: string[] = [];
  const channel = new PhoenixChannel(
    {
      url: "ws://portal.invalid/client/websocket",
      token,
      topic: "client",
      joinPayload: () => ({}),
      clock,
      random: () => 0.999999,
      createSocket: (_url, headers) => {
        const s = new FakeSocket(headers);
        sockets.push(s);
        return s;
      },
    },
    {
      connecting: (n) => log.push(`connecting ${n}`),
      joined: () => log.push("joined"),
      event: (e) => log.push(`event ${e}`),
      disconnected: (reason, ms) => log.push(`disconnected ${reason} ${ms}`),
      terminal: (r) => log.push(`terminal ${r}`),
    },
  );
  /** Opens the newest socket and answers its join, as the portal does. */
  const join = () => {
    const s = sockets.at(-1)!;
    s.onopen?.({} as Event);
    s.reply(s.sent.find((f) => f.event === "phx_join")!.ref);
    return s;
  };
  return { clock, sockets, log, channel, join };
}
