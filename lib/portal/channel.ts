// One Phoenix channel over one WebSocket, kept alive: join, heartbeats, missed-heartbeat detection,
// request/reply by ref, and reconnect with backoff until the token is refused or stop() is called.
import * as v from "valibot";
import {
  Backoff,
  type BackoffOptions,
  type Clock,
  type Logger,
  silentLogger,
  systemClock,
} from "../util/index.ts";
import {
  CLOSE_HEARTBEAT_TIMEOUT,
  CLOSE_INVALID_TOKEN,
  encodeFrame,
  type Frame,
  parseFrame,
  ReplySchema,
  TokenProblem,
} from "./protocol.ts";

/** The parts of a WebSocket the channel uses, so tests and other runtimes can supply their own. */
export interface SocketLike {
  onopen: ((ev: Event) => void) | null;
  onmessage: ((ev: MessageEvent) => void) | null;
  onclose: ((ev: CloseEvent) => void) | null;
  onerror: ((ev: Event) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

/** TLS settings for `wss://`: the CA certificates (PEM) to trust, replacing the runtime's list. */
export interface ChannelTls {
  ca?: string[];
}

export type SocketFactory = (url: string, headers: Record<string, string>, tls?: ChannelTls) => SocketLike;

// Certificates are always verified (Bun's default, never switched off here); `ca` only widens the
// set of trusted roots.
const defaultSocketFactory: SocketFactory = (url, headers, tls) =>
  new WebSocket(url, { headers, ...(tls?.ca ? { tls: { ca: tls.ca } } : {}) }) as unknown as SocketLike;

/** What a failed connection says, with the fix when the portal's certificate was the problem. */
export function describeSocketError(ev: Event): string {
  const raw = (ev as { message?: unknown }).message;
  const text = typeof raw === "string" ? raw.replace(/[\u0000-\u001f\u007f-\u009f]/g, "").slice(0, 300) : "";
  const detail = text.replace(/^WebSocket connection to '[^']*' failed: /, "");
  if (!detail) return "connection failed";
  if (/certificate|altname|TLS|SSL/i.test(detail)) {
    return (
      `connection failed: ${detail}. The portal's TLS certificate was not accepted: check the portal URL's ` +
      "host name, and for a portal with a private CA set ca_file (see docs/configuration.md)"
    );
  }
  return `connection failed: ${detail}`;
}

/** How a channel keeps itself alive and what it runs on; PortalClient passes these through. */
export interface ChannelTuning {
  logger?: Logger;
  clock?: Clock;
  random?: () => number;
  /** Default 10 s, as Phoenix and Firezone. */
  heartbeatIntervalMs?: number;
  /** How long a heartbeat may go unanswered before the connection counts as dead. Default 5 s. */
  heartbeatTimeoutMs?: number;
  /** Open + join must finish within this. Default 10 s. */
  connectTimeoutMs?: number;
  backoff?: BackoffOptions;
  /**
   * How long a joined connection must stay up before the backoff starts over. Default 30 s: three
   * heartbeats, so a portal (or a proxy) that accepts the join and then drops the connection is
   * retried on the growing schedule, not every half second by every client.
   */
  stableAfterMs?: number;
  createSocket?: SocketFactory;
  tls?: ChannelTls;
}

export interface ChannelOptions extends ChannelTuning {
  /** Full WebSocket URL, e.g. `ws://127.0.0.1:8080/client/websocket`. */
  url: string;
  /** Sent only in the `X-Authorization: Bearer` header; never logged. */
  token: string;
  topic: string;
  /** Called on each (re)join, so the payload can change between connections. */
  joinPayload: () => unknown;
}

export interface ChannelHandlers {
  connecting(attempt: number): void;
  joined(response: unknown): void;
  event(event: string, payload: unknown): void;
  disconnected(reason: string, retryInMs: number): void;
  /** The portal refused the token: the channel stays closed. */
  terminal(reason: TokenProblem): void;
}

export type ChannelState = "idle" | "connecting" | "joined" | "waiting" | "terminal" | "stopped";

/** A request the portal answered with `{status: "error"}`, or that got no answer. */
export class PortalRequestError extends Error {
  readonly reason: string;
  constructor(event: string, reason: string) {
    super(`portal request ${event} failed: ${reason}`);
    this.name = "PortalRequestError";
    this.reason = reason;
  }
}

interface Pending {
  event: string;
  resolve: (response: unknown) => void;
  reject: (error: Error) => void;
  timer: unknown;
}

const isTokenProblem = (x: unknown): x is TokenProblem => v.is(TokenProblem, x);

export class PhoenixChannel {
  #state: ChannelState = "idle";
  #ws: SocketLike | undefined;
  #ref = 0;
  #joinRef: string | undefined;
  #heartbeatRef: string | undefined;
  #timers = new Set<unknown>();
  #connectTimer: unknown;
  #heartbeatDeadline: unknown;
  #pending = new Map<string, Pending>();
  readonly #o: ChannelOptions;
  readonly #h: ChannelHandlers;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #backoff: Backoff;

  constructor(options: ChannelOptions, handlers: ChannelHandlers) {
    this.#o = options;
    this.#h = handlers;
    this.#clock = options.clock ?? systemClock;
    this.#log = options.logger ?? silentLogger;
    this.#backoff = new Backoff(options.backoff, options.random);
  }

  get state(): ChannelState {
    return this.#state;
  }

  start(): void {
    if (this.#state !== "idle") return;
    this.#connect();
  }

  /** Closes for good; pending requests fail with reason `stopped`. */
  stop(): void {
    if (this.#state === "stopped") return;
    const ws = this.#ws;
    this.#teardown("stopped");
    this.#state = "stopped";
    ws?.close(1000, "client stopped");
  }

  /**
   * Drops the connection (or the wait for the next attempt) and dials again at once, with the
   * backoff started over: the network under it changed, so earlier failures say nothing about the
   * next attempt. Pending requests fail with reason `disconnected`.
   */
  reconnect(reason: string): void {
    if (this.#state === "idle" || this.#state === "terminal" || this.#state === "stopped") return;
    const ws = this.#teardown("disconnected");
    try {
      ws?.close(1000, reason.slice(0, 100));
    } catch {
      // already closed
    }
    this.#backoff.reset();
    this.#log.info("reconnecting to the portal at once", { reason });
    this.#connect();
  }

  /** Pushes an event on the channel's topic and resolves with the reply's `response`. */
  push(event: string, payload: unknown, timeoutMs = 10_000): Promise<unknown> {
    const ws = this.#ws;
    if (this.#state !== "joined" || !ws)
      return Promise.reject(new PortalRequestError(event, "not_connected"));
    const ref = this.#nextRef();
    return new Promise((resolve, reject) => {
      const timer = this.#after(timeoutMs, () => {
        this.#pending.delete(ref);
        reject(new PortalRequestError(event, "timeout"));
      });
      this.#pending.set(ref, { event, resolve, reject, timer });
      ws.send(encodeFrame(this.#o.topic, event, payload, ref));
    });
  }

  #nextRef(): string {
    this.#ref += 1;
    return String(this.#ref);
  }

  #after(ms: number, fn: () => void): unknown {
    const handle = this.#clock.setTimeout(() => {
      this.#timers.delete(handle);
      fn();
    }, ms);
    this.#timers.add(handle);
    return handle;
  }

  #cancel(handle: unknown): void {
    if (handle === undefined) return;
    this.#timers.delete(handle);
    this.#clock.clearTimeout(handle);
  }

  #connect(): void {
    this.#state = "connecting";
    this.#h.connecting(this.#backoff.attempt);
    let ws: SocketLike;
    try {
      ws = (this.#o.createSocket ?? defaultSocketFactory)(
        this.#o.url,
        { "X-Authorization": `Bearer ${this.#o.token}` },
        this.#o.tls,
      );
    } catch (e) {
      // Only the URL can be wrong here; the message never contains the token.
      this.#lost(`cannot open ${this.#o.url}: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    this.#ws = ws;
    this.#connectTimer = this.#after(this.#o.connectTimeoutMs ?? 10_000, () => {
      if (ws === this.#ws) this.#lost("connect timeout", 4000);
    });
    ws.onopen = () => {
      if (ws !== this.#ws) return;
      this.#joinRef = this.#nextRef();
      ws.send(encodeFrame(this.#o.topic, "phx_join", this.#o.joinPayload(), this.#joinRef));
      this.#scheduleHeartbeat();
    };
    ws.onmessage = (ev) => {
      if (ws !== this.#ws || typeof ev.data !== "string") return;
      const frame = parseFrame(ev.data);
      if (!frame) {
        this.#log.warn("ignoring malformed frame from portal");
        return;
      }
      this.#onFrame(frame);
    };
    ws.onerror = (ev) => {
      if (ws === this.#ws) this.#lost(describeSocketError(ev));
    };
    ws.onclose = (ev) => {
      if (ws !== this.#ws) return;
      if (ev.code === CLOSE_INVALID_TOKEN) this.#terminal(isTokenProblem(ev.reason) ? ev.reason : "invalid");
      else this.#lost(`connection closed (code ${ev.code}${ev.reason ? `, ${ev.reason}` : ""})`);
    };
  }

  #scheduleHeartbeat(): void {
    this.#after(this.#o.heartbeatIntervalMs ?? 10_000, () => {
      const ws = this.#ws;
      if (!ws) return;
      this.#heartbeatRef = this.#nextRef();
      ws.send(encodeFrame("phoenix", "heartbeat", {}, this.#heartbeatRef));
      this.#heartbeatDeadline = this.#after(this.#o.heartbeatTimeoutMs ?? 5_000, () => {
        if (ws === this.#ws) this.#lost("heartbeat timeout", CLOSE_HEARTBEAT_TIMEOUT);
      });
    });
  }

  #onFrame(frame: Frame): void {
    if (frame.event === "phx_reply") {
      this.#onReply(frame);
      return;
    }
    if (frame.topic !== this.#o.topic) return;
    if (frame.event === "invalid_token") {
      const reason = (frame.payload as { reason?: unknown } | null)?.reason;
      this.#terminal(isTokenProblem(reason) ? reason : "invalid");
      return;
    }
    if (frame.event === "phx_error" || frame.event === "phx_close") this.#lost(`portal sent ${frame.event}`);
    else if (this.#state === "joined") this.#h.event(frame.event, frame.payload);
  }

  #onReply(frame: Frame): void {
    const reply = v.safeParse(ReplySchema, frame.payload);
    if (!reply.success || !frame.ref) return;
    const { status, response } = reply.output;
    const reason = String((response as { reason?: unknown } | null)?.reason ?? "unknown");
    if (frame.ref === this.#heartbeatRef) {
      this.#heartbeatRef = undefined;
      this.#cancel(this.#heartbeatDeadline);
      this.#scheduleHeartbeat();
      return;
    }
    if (frame.ref === this.#joinRef) {
      this.#joinRef = undefined;
      if (status === "error") {
        if (isTokenProblem(reason)) {
          this.#terminal(reason);
          return;
        }
        this.#lost(`portal refused to join: ${reason}`);
        return;
      }
      this.#cancel(this.#connectTimer);
      this.#state = "joined";
      // Not reset on the join itself: only a connection that stays up counts as a success. The
      // timer dies with the connection (teardown clears every timer).
      this.#after(this.#o.stableAfterMs ?? 30_000, () => this.#backoff.reset());
      this.#h.joined(response);
      return;
    }
    const pending = this.#pending.get(frame.ref);
    if (!pending) return;
    this.#pending.delete(frame.ref);
    this.#cancel(pending.timer);
    if (status === "ok") pending.resolve(response);
    else pending.reject(new PortalRequestError(pending.event, reason));
  }

  /** Drops the socket and fails what waited on it. */
  #teardown(reason: string): SocketLike | undefined {
    const ws = this.#ws;
    this.#ws = undefined;
    this.#joinRef = undefined;
    this.#heartbeatRef = undefined;
    for (const t of this.#timers) this.#clock.clearTimeout(t);
    this.#timers.clear();
    for (const p of this.#pending.values()) p.reject(new PortalRequestError(p.event, reason));
    this.#pending.clear();
    if (ws) {
      ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null;
    }
    return ws;
  }

  #lost(reason: string, closeCode = 1000): void {
    if (this.#state === "terminal" || this.#state === "stopped") return;
    const ws = this.#teardown("disconnected");
    try {
      ws?.close(closeCode, reason.slice(0, 100));
    } catch {
      // already closed
    }
    const delay = this.#backoff.next();
    this.#state = "waiting";
    this.#log.info("portal connection lost", { reason, retry_ms: delay });
    this.#after(delay, () => this.#connect());
    this.#h.disconnected(reason, delay);
  }

  #terminal(reason: TokenProblem): void {
    if (this.#state === "terminal" || this.#state === "stopped") return;
    const ws = this.#teardown("signed_out");
    this.#state = "terminal";
    try {
      ws?.close(1000, "token refused");
    } catch {
      // already closed
    }
    this.#log.warn("portal refused the token", { reason });
    this.#h.terminal(reason);
  }
}
