// The daemon's side of the socket: authorizes each peer, decodes frames, dispatches requests
// through the protocol table, pushes events to subscribers, and enforces the limits of
// server_options.ts (admission in _admission.ts, requests in _dispatcher.ts).
import type { TCPSocketListener, UnixSocketListener } from "bun";
import { peerCredentials, setListenBacklog } from "../sys/index.ts";
import { FzError } from "../types/index.ts";
import { type Logger, silentLogger } from "../util/index.ts";
import { Admission } from "./_admission.ts";
import { type Conn, type Sock, socketFd } from "./_connection.ts";
import { Dispatcher } from "./_dispatcher.ts";
import { Outbox } from "./_outbox.ts";
import { encodeFrame, FrameDecoder } from "./framing.ts";
import { type KernelPeer, kernelPeer, type PeerInfo } from "./peer.ts";
import { type DaemonEvent, isMethodName, methods, PROTOCOL_VERSION } from "./protocol.ts";
import { DEFAULT_LIMITS, type ServerLimits, type ServerOptions } from "./server_options.ts";
import { mayCall, NO_SESSION, type SessionView, tierOf } from "./tiers.ts";

/** Pending connections the kernel queues for accept (capped at net.core.somaxconn). */
const ACCEPT_BACKLOG = 4096;

export class IpcServer {
  private listener: UnixSocketListener<Conn> | TCPSocketListener<Conn> | null = null;
  private readonly conns = new Set<Sock>();
  private readonly limits: ServerLimits;
  private readonly log: Logger;
  private readonly admission: Admission;
  private readonly dispatcher: Dispatcher;

  constructor(private readonly opts: ServerOptions) {
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.log = opts.logger ?? silentLogger;
    this.admission = new Admission(this.limits, this.log);
    this.dispatcher = new Dispatcher({
      server: opts,
      limits: this.limits,
      log: this.log,
      sessionView: () => this.sessionView(),
      drop: (s) => this.drop(s),
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
    this.admission.flush();
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
      if (!this.admission.takeConnect(uid)) {
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
      const count = this.admission.openBy(uid);
      if (this.conns.size > this.limits.maxConnections || count >= this.limits.maxConnectionsPerUid) {
        this.refuse(
          s,
          uid,
          new FzError("busy", "firezoned has too many open connections; close some clients and retry"),
        );
        return;
      }
    }
    this.admission.count(s, uid);
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

  /** `uid` is -1 when the caller could not be identified. */
  private refuse(s: Sock, uid: number, error: FzError): void {
    this.conns.delete(s);
    this.admission.refuse(s, uid, error);
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
    this.admission.release(s);
  }

  private onData(s: Sock, chunk: Uint8Array): void {
    if (s.data.closed || !s.data.peer) return;
    let messages: unknown[];
    try {
      messages = s.data.decoder.push(chunk);
    } catch (err) {
      this.dispatcher.failConnection(
        s,
        err instanceof FzError ? err : new FzError("invalid_request", "unreadable frame"),
      );
      return;
    }
    this.armFrameTimer(s);
    for (const message of messages) {
      if (s.data.closed) return;
      this.dispatcher.onMessage(s, message);
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
      this.dispatcher.failConnection(
        s,
        new FzError("timeout", `frame not completed within ${this.limits.frameTimeoutMs} ms`),
      );
    }, this.limits.frameTimeoutMs);
  }
}
