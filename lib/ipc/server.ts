// The daemon's side of the socket: authorizes each peer, decodes frames, dispatches requests
// through the protocol table, pushes events to subscribers, and enforces the limits below.
import type { Socket, TCPSocketListener, UnixSocketListener } from "bun";
import * as v from "valibot";
import { peerCredentials, setListenBacklog } from "../sys/index.ts";
import { FzError } from "../types/index.ts";
import { Coalescer, type Logger, silentLogger } from "../util/index.ts";
import { ByteBudget, unlimitedBudget } from "./_byte_budget.ts";
import { Outbox } from "./_outbox.ts";
import { CappedCounts, TokenBuckets } from "./_rate_limit.ts";
import { encodeFrame, FrameDecoder } from "./framing.ts";
import { errorBody } from "./membership.ts";
import { type Authorizer, type KernelPeer, kernelPeer, type PeerInfo } from "./peer.ts";
import {
  type DaemonEvent,
  isMethodName,
  type MethodName,
  methods,
  type Params,
  PROTOCOL_VERSION,
  RequestEnvelope,
  type Result,
} from "./protocol.ts";
import { checkTier, mayCall, NO_SESSION, type SessionView, type TierGroups, tierOf } from "./tiers.ts";

export interface CallContext {
  peer: PeerInfo;
}

/** One handler per method of the table, except `subscribe`, which the server itself serves. */
export type Handlers = {
  [M in Exclude<MethodName, "subscribe">]: (
    params: Params<M>,
    ctx: CallContext,
  ) => Promise<Result<M>> | Result<M>;
};

export interface ServerLimits {
  maxConnections: number;
  /** Per non-root uid, so one user cannot lock the others out. */
  maxConnectionsPerUid: number;
  /** A frame that starts and does not finish within this time closes the connection. */
  frameTimeoutMs: number;
  /** Unsent bytes a connection may hold before it is dropped as a slow reader. */
  maxQueuedBytes: number;
  maxInFlight: number;
  /** New connections per second one non-root uid may open, sustained; `connectBurst` at once. */
  connectsPerSecond: number;
  connectBurst: number;
  /** Refused connections kept open for their client to read why, per uid and in all; more close at once. */
  maxLingeringPerUid: number;
  maxLingering: number;
  /** Bytes one non-root uid may hold in the daemon (unfinished frames, unsent replies) over all its connections. */
  maxBytesPerUid: number;
}

export const DEFAULT_LIMITS: ServerLimits = {
  maxConnections: 512,
  maxConnectionsPerUid: 64,
  frameTimeoutMs: 5000,
  maxQueuedBytes: 4 * 1024 * 1024,
  maxInFlight: 32,
  connectsPerSecond: 20,
  connectBurst: 40,
  maxLingeringPerUid: 4,
  maxLingering: 64,
  maxBytesPerUid: 16 * 1024 * 1024,
};

/** Pending connections the kernel queues for accept (capped at net.core.somaxconn). */
const ACCEPT_BACKLOG = 4096;

/** Window in which repeated refusals are logged once with a count. */
const REFUSAL_LOG_WINDOW_MS = 10_000;

/** How long a refused connection stays open for its client to read why (see refuse). */
const REFUSED_GRACE_MS = 1000;

export interface ServerOptions {
  socketPath: string;
  handlers: Handlers;
  authorize: Authorizer;
  daemonVersion: string;
  logger?: Logger;
  /** Called once per state-changing request with its outcome ("ok" or an error code). */
  audit?: (peer: PeerInfo, method: MethodName, outcome: string) => void;
  limits?: Partial<ServerLimits>;
  /** Injected for tests; defaults to the kernel's SO_PEERCRED, SO_PEERGROUPS and the peer's pidfd. */
  identify?: (fd: number) => KernelPeer;
  /** The session as the tier check sees it, read at every call; default: nobody signed in. */
  session?: () => SessionView;
  /** Group names that refusals point to; default `firezone`. */
  groups?: TierGroups;
}

interface Conn {
  /** The SO_PEERCRED uid while the connection counts against that uid's limits. */
  uid: number | null;
  /** The uid whose refused-connection allowance this connection holds while it lingers. */
  lingerUid: number | null;
  peer: PeerInfo | null;
  decoder: FrameDecoder;
  outbox: Outbox;
  subscribed: boolean;
  inFlight: number;
  frameTimer: ReturnType<typeof setTimeout> | null;
  /** Which frame (the decoder's framesStarted) the running frame timer belongs to. */
  frameTimed: number;
  closed: boolean;
}

interface RefusalLine {
  msg: string;
  fields: Record<string, unknown>;
}

type Sock = Socket<Conn>;

// Bun exposes the file descriptor of a Unix socket at run time but not in its type definitions.
function socketFd(s: Sock): number {
  return (s as unknown as { fd: number }).fd;
}

export class IpcServer {
  private listener: UnixSocketListener<Conn> | TCPSocketListener<Conn> | null = null;
  private readonly conns = new Set<Sock>();
  private readonly perUid = new Map<number, number>();
  private readonly budgets = new Map<number, ByteBudget>();
  private readonly limits: ServerLimits;
  private readonly log: Logger;
  private readonly connects: TokenBuckets;
  private readonly lingering: CappedCounts;
  private readonly refusals: Coalescer<RefusalLine>;

  constructor(private readonly opts: ServerOptions) {
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.log = opts.logger ?? silentLogger;
    this.connects = new TokenBuckets(this.limits.connectsPerSecond, this.limits.connectBurst);
    this.lingering = new CappedCounts(this.limits.maxLingeringPerUid, this.limits.maxLingering);
    this.refusals = new Coalescer<RefusalLine>({
      windowMs: REFUSAL_LOG_WINDOW_MS,
      perSourceBudget: 8,
      unbudgeted: (uid) => uid === "0",
      emit: (l) => this.log.warn(l.msg, l.fields),
      repeated: (l, times, ms) =>
        this.log.warn(`${l.msg} (repeated ${times} times in ${ms / 1000} s)`, l.fields),
      suppressed: (uid, count, ms) =>
        this.log.warn("further refusals not logged one by one", { uid, count, seconds: ms / 1000 }),
    });
  }

  get connectionCount(): number {
    return this.conns.size;
  }

  get subscriberCount(): number {
    let n = 0;
    for (const s of this.conns) if (s.data.subscribed) n++;
    return n;
  }

  start(): void {
    this.listener = Bun.listen<Conn>({
      unix: this.opts.socketPath,
      socket: {
        open: (s) => this.onOpen(s),
        data: (s, chunk) => this.onData(s, chunk),
        drain: (s) => s.data.outbox.flush(),
        close: (s) => this.onClose(s),
        error: (s, err) => this.log.debug("connection error", { error: err, user: s.data?.peer?.user }),
      },
    });
    // A caller connecting faster than the loop accepts fills the accept queue, and then everyone's
    // connect fails; the kernel's maximum gives the loop the most slack before that happens.
    try {
      setListenBacklog((this.listener as unknown as { fd: number }).fd, ACCEPT_BACKLOG);
    } catch (err) {
      this.log.debug("could not raise the accept backlog", { error: err });
    }
  }

  stop(): void {
    this.listener?.stop(true);
    this.listener = null;
    for (const s of this.conns) s.end();
    this.refusals.flush();
  }

  /**
   * Pushes an event to every subscriber; one that cannot keep up is disconnected, not buffered
   * forever. Never throws: an event that cannot be encoded (over the frame cap) is logged and not
   * sent, and a subscriber whose socket fails is dropped alone.
   */
  broadcast(event: DaemonEvent): void {
    let frame: Uint8Array;
    try {
      frame = encodeFrame({ type: "event", event });
    } catch (err) {
      this.log.error("an event could not be encoded; subscribers do not get it", {
        kind: event.kind,
        error: err instanceof Error ? err.message : String(err),
      });
      return;
    }
    for (const s of this.conns) {
      if (!s.data.subscribed || s.data.closed) continue;
      let sent: boolean;
      try {
        sent = s.data.outbox.send(frame);
      } catch (err) {
        this.log.warn("dropping a subscriber whose socket failed", { user: s.data.peer?.user, error: err });
        sent = false;
      }
      if (!sent) {
        this.log.warn("dropping a subscriber that stopped reading", {
          user: s.data.peer?.user,
          pid: s.data.peer?.pid,
          queuedBytes: s.data.outbox.queuedBytes,
        });
        try {
          this.drop(s);
        } catch {}
      }
    }
  }

  private onOpen(s: Sock): void {
    s.data = {
      uid: null,
      lingerUid: null,
      peer: null,
      decoder: new FrameDecoder(),
      outbox: new Outbox(s, this.limits.maxQueuedBytes),
      subscribed: false,
      inFlight: 0,
      frameTimer: null,
      frameTimed: 0,
      closed: false,
    };
    this.conns.add(s);
    const fd = socketFd(s);
    // Admission comes first and uses the SO_PEERCRED uid alone, so a flood costs the daemon no
    // pidfd, no /proc read, no name lookup and no buffers. Root is exempt: it can stop the daemon
    // anyway, and must always be able to reach it.
    let kernel: KernelPeer | null = null;
    let uid: number;
    try {
      if (this.opts.identify) {
        kernel = this.opts.identify(fd);
        uid = kernel.uid;
      } else uid = peerCredentials(fd).uid;
    } catch {
      this.refuse(s, -1, new FzError("permission_denied", "could not identify the caller"));
      return;
    }
    if (uid !== 0) {
      if (!this.connects.take(uid)) {
        this.refuse(
          s,
          uid,
          new FzError(
            "busy",
            `too many new connections from uid ${uid} (more than ${this.limits.connectsPerSecond} a second); wait a moment and retry`,
          ),
        );
        return;
      }
      const count = this.perUid.get(uid) ?? 0;
      if (this.conns.size > this.limits.maxConnections || count >= this.limits.maxConnectionsPerUid) {
        this.refuse(
          s,
          uid,
          new FzError("busy", "firezoned has too many open connections; close some clients and retry"),
        );
        return;
      }
    }
    this.count(s, uid);
    let peer: PeerInfo;
    try {
      kernel ??= kernelPeer(fd);
      const admitted = this.opts.authorize.admit(kernel);
      if (admitted instanceof Promise) {
        // Refused: the diagnosis waits for the group database, off the event loop. Meanwhile the
        // connection counts against its uid, so a flood of them stays within the uid's limits.
        admitted
          .then((error) => {
            if (s.data.closed) return;
            this.refuse(s, uid, error);
          })
          .catch((err: unknown) => {
            this.log.error("could not refuse a connection", { error: err });
            this.drop(s);
          });
        return;
      }
      peer = admitted;
    } catch (err) {
      const error =
        err instanceof FzError ? err : new FzError("permission_denied", "could not identify the caller");
      this.refuse(s, uid, error);
      return;
    }
    s.data.peer = peer;
    const session = this.sessionView();
    const allowed = Object.keys(methods).filter((name) => isMethodName(name) && mayCall(name, peer, session));
    s.data.outbox.send(
      encodeFrame({
        type: "hello",
        protocol: PROTOCOL_VERSION,
        daemonVersion: this.opts.daemonVersion,
        tier: tierOf(peer, session),
        pid: process.pid,
        allowed,
      }),
    );
  }

  private sessionView(): SessionView {
    return this.opts.session?.() ?? NO_SESSION;
  }

  /** Counts an admitted connection against its uid and charges its buffers to the uid's budget. */
  private count(s: Sock, uid: number): void {
    this.perUid.set(uid, (this.perUid.get(uid) ?? 0) + 1);
    let budget = this.budgets.get(uid);
    if (!budget) {
      budget = uid === 0 ? unlimitedBudget : new ByteBudget(this.limits.maxBytesPerUid);
      this.budgets.set(uid, budget);
    }
    s.data.uid = uid;
    s.data.decoder = new FrameDecoder(budget);
    s.data.outbox = new Outbox(s, this.limits.maxQueuedBytes, budget);
  }

  private uncount(s: Sock): void {
    const uid = s.data.uid;
    if (uid === null) return;
    s.data.uid = null;
    s.data.decoder.release();
    s.data.outbox.release();
    const left = (this.perUid.get(uid) ?? 1) - 1;
    if (left > 0) {
      this.perUid.set(uid, left);
      return;
    }
    this.perUid.delete(uid);
    this.budgets.delete(uid);
  }

  /** `uid` is -1 when the caller could not be identified. */
  private refuse(s: Sock, uid: number, error: FzError): void {
    this.refusals.note(String(uid), `${error.code}\u0000${error.message}`, {
      msg: "refused connection",
      fields: { uid, code: error.code, reason: error.message },
    });
    this.uncount(s);
    s.data.closed = true;
    this.conns.delete(s);
    // Written straight to the socket: a fresh connection's send buffer is empty, so the small frame
    // fits, and a refused connection gets no queue of its own.
    s.write(encodeFrame({ type: "refused", error: errorBody(error) }));
    // Closing at once can beat the client's own handling of its connect: Bun then reports ECONNRESET
    // and drops the frame, and the caller never learns why or how to join the group. So the client
    // closes once it has read the refusal, or the timer does. Such lingering connections are capped
    // per uid and in all; past the caps a refused connection is closed at once, so a caller that
    // reconnects as fast as it can holds only a handful of descriptors.
    if (this.lingering.tryAdd(uid)) {
      s.data.lingerUid = uid;
      s.data.frameTimer = setTimeout(() => s.end(), REFUSED_GRACE_MS);
    } else {
      s.end();
    }
  }

  private drop(s: Sock): void {
    s.data.closed = true;
    s.end();
  }

  private onClose(s: Sock): void {
    this.conns.delete(s);
    if (s.data.frameTimer) clearTimeout(s.data.frameTimer);
    s.data.frameTimer = null;
    s.data.closed = true;
    if (s.data.lingerUid !== null) this.lingering.remove(s.data.lingerUid);
    s.data.lingerUid = null;
    this.uncount(s);
  }

  private onData(s: Sock, chunk: Uint8Array): void {
    if (s.data.closed || !s.data.peer) return;
    let messages: unknown[];
    try {
      messages = s.data.decoder.push(chunk);
    } catch (err) {
      this.failConnection(
        s,
        err instanceof FzError ? err : new FzError("invalid_request", "unreadable frame"),
      );
      return;
    }
    this.armFrameTimer(s);
    for (const message of messages) {
      if (s.data.closed) return;
      this.onMessage(s, message);
    }
  }

  /**
   * The deadline belongs to a frame: it starts with the frame's first byte and more bytes of the
   * same frame do not extend it, so a client trickling one byte at a time is closed on time.
   */
  private armFrameTimer(s: Sock): void {
    const decoder = s.data.decoder;
    if (s.data.frameTimer && decoder.midFrame && s.data.frameTimed === decoder.framesStarted) return;
    if (s.data.frameTimer) clearTimeout(s.data.frameTimer);
    s.data.frameTimer = null;
    if (!decoder.midFrame) return;
    s.data.frameTimed = decoder.framesStarted;
    s.data.frameTimer = setTimeout(() => {
      this.failConnection(
        s,
        new FzError("timeout", `frame not completed within ${this.limits.frameTimeoutMs} ms`),
      );
    }, this.limits.frameTimeoutMs);
  }

  /** Replies with an error where the socket still takes it, then closes. */
  private failConnection(s: Sock, error: FzError, id: number | null = null): void {
    this.log.debug("closing connection after bad input", { user: s.data.peer?.user, reason: error.message });
    s.data.outbox.send(
      encodeFrame({ type: "response", id, ok: false, error: { code: error.code, message: error.message } }),
    );
    this.drop(s);
  }

  private onMessage(s: Sock, message: unknown): void {
    const parsed = v.safeParse(RequestEnvelope, message);
    if (!parsed.success) {
      const id =
        typeof (message as { id?: unknown })?.id === "number" ? (message as { id: number }).id : null;
      const issue = parsed.issues[0];
      const where = issue?.path?.map((p) => String(p.key)).join(".") || "message";
      this.failConnection(
        s,
        new FzError("invalid_request", `malformed request (${where}: ${issue?.message})`),
        id,
      );
      return;
    }
    const { id, method, params } = parsed.output;
    if (!isMethodName(method)) {
      this.reply(
        s,
        id,
        new FzError(
          "unknown_method",
          `unknown method '${method}'; this daemon speaks protocol ${PROTOCOL_VERSION}`,
        ),
      );
      return;
    }
    if (s.data.inFlight >= this.limits.maxInFlight) {
      this.reply(
        s,
        id,
        new FzError("busy", `more than ${this.limits.maxInFlight} requests in flight on one connection`),
      );
      return;
    }
    s.data.inFlight++;
    this.dispatch(s, id, method, params ?? {}).finally(() => {
      s.data.inFlight--;
    });
  }

  private async dispatch(s: Sock, id: number, method: MethodName, rawParams: unknown): Promise<void> {
    const peer = s.data.peer!;
    const spec = methods[method];
    let outcome = "ok";
    try {
      // Membership is checked again for every change, so a user removed from the group loses
      // member rights on connections opened before (and the audit line has the user's name).
      if (spec.mutates) await this.opts.authorize.mayChange(peer);
      // Then the tier table, with the session as it is at this moment.
      checkTier(method, peer, this.sessionView(), this.opts.groups ?? { member: "firezone" });
      const params = v.safeParse(spec.params, rawParams);
      if (!params.success) {
        throw new FzError(
          "invalid_request",
          `invalid parameters for '${method}': ${params.issues[0]?.message}`,
        );
      }
      let result: unknown;
      if (method === "subscribe") {
        s.data.subscribed = true;
        result = { subscribed: true };
      } else {
        const handler = this.opts.handlers[method] as (p: unknown, c: CallContext) => unknown;
        result = await handler(params.output, { peer });
      }
      this.reply(s, id, null, result);
    } catch (err) {
      const error =
        err instanceof FzError
          ? err
          : new FzError("internal", `firezoned failed to handle '${method}'; see its log`);
      if (!(err instanceof FzError)) this.log.error("handler failed", { method, error: err });
      outcome = error.code;
      this.reply(s, id, error);
    } finally {
      if (spec.mutates) this.opts.audit?.(peer, method, outcome);
    }
  }

  private reply(s: Sock, id: number, error: FzError | null, result?: unknown): void {
    if (s.data.closed) return;
    const body = error
      ? { type: "response", id, ok: false, error: errorBody(error) }
      : { type: "response", id, ok: true, result };
    if (!s.data.outbox.send(encodeFrame(body))) this.drop(s);
  }
}
