// The clients' side of the socket: connects, checks that the daemon is really root's, reads its
// hello, and offers typed calls and event subscription derived from the protocol table.
import type { Socket } from "bun";
import * as v from "valibot";
import { groupByGid, groupsOfUser, peerCredentials, userByUid } from "../sys/index.ts";
import { FzError, isErrorCode } from "../types/index.ts";
import { Outbox } from "./_outbox.ts";
import { encodeFrame, FrameDecoder } from "./framing.ts";
import { diagnose, MembershipError, MembershipSchema } from "./membership.ts";
import {
  type DaemonEvent,
  type Hello,
  type IpcResource,
  type MethodName,
  type Params,
  PROTOCOL_VERSION,
  type Result,
  ServerMessage,
} from "./protocol.ts";

export const DEFAULT_SOCKET = "/run/firezoned/ipc.sock";

export interface ClientOptions {
  socketPath?: string;
  /** Refuse a daemon whose socket is not held by uid 0 (default true; tests run unprivileged daemons). */
  requireRootPeer?: boolean;
  /** How long to wait for the connection and the hello, and for each response. */
  timeoutMs?: number;
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: FzError) => void;
  timer: ReturnType<typeof setTimeout>;
}

const START_HINT = "Start it with: sudo systemctl start firezoned";
const NOT_RUNNING = new Set(["ENOENT", "ECONNREFUSED", "ENOTDIR"]);

/** Whether a connect failed because nothing serves the socket (as opposed to refused or foreign). */
export function isNotRunning(err: unknown): boolean {
  const cause = (err as { cause?: { code?: string } }).cause;
  return err instanceof FzError && err.code === "daemon_unreachable" && NOT_RUNNING.has(cause?.code ?? "");
}

function connectError(err: unknown, socketPath: string): FzError {
  const code = (err as { code?: string }).code;
  if (code && NOT_RUNNING.has(code)) {
    const why = code === "ECONNREFUSED" ? "nothing is listening on" : "there is no socket at";
    return new FzError(
      "daemon_unreachable",
      `firezoned is not running (${why} ${socketPath}). ${START_HINT}`,
      {
        cause: err,
      },
    );
  }
  if (code === "EACCES" || code === "EPERM") return accessDenied(socketPath);
  return new FzError(
    "daemon_unreachable",
    `cannot connect to firezoned at ${socketPath} (${code ?? String(err)})`,
  );
}

/**
 * The kernel refused the connect, so the daemon never heard of us: this process diagnoses itself from
 * the same two facts the daemon would use. It does not hold the socket's group (or the kernel would
 * have let it in); whether the group database lists the user tells a session that predates joining
 * the group from a user who never joined. Blocking NSS calls are fine in a short-lived client.
 */
function accessDenied(socketPath: string): FzError {
  const prefix = `Permission denied on ${socketPath}: only root and members of group`;
  const group = socketGroup(socketPath);
  if (!group) return new FzError("permission_denied", `${prefix} 'firezone' may use firezoned.`);
  const uid = process.getuid?.() ?? -1;
  let user: string | null = null;
  let listed = false;
  try {
    const pw = userByUid(uid);
    user = pw && v.is(MembershipSchema.entries.group, pw.name) ? pw.name : null;
    listed = pw !== null && groupsOfUser(pw.name, pw.gid).includes(group.gid);
  } catch {}
  return new MembershipError(
    { diagnosis: diagnose(listed), group: group.name, user },
    `${prefix} '${group.name}' may use firezoned. `,
  );
}

/** The group that owns the socket (or its directory), to name it in the fix; null when unreadable. */
function socketGroup(socketPath: string): { name: string; gid: number } | null {
  // node:fs is loaded only on this error path: importing it costs a short-lived CLI about a millisecond.
  const { statSync } = require("node:fs") as typeof import("node:fs");
  for (const path of [socketPath, socketPath.slice(0, socketPath.lastIndexOf("/")) || "/"]) {
    try {
      const gid = statSync(path).gid;
      const name = groupByGid(gid)?.name;
      if (name && name !== "root" && v.is(MembershipSchema.entries.group, name)) return { name, gid };
    } catch {}
  }
  return null;
}

/**
 * Inside a user namespace the daemon's root shows as the overflow uid (65534), so SO_PEERCRED cannot
 * tell root's daemon from anyone else's process: the client must say so instead of "untrusted".
 */
function inUserNamespace(): boolean {
  try {
    const { readFileSync } = require("node:fs") as typeof import("node:fs");
    const map = readFileSync("/proc/self/uid_map", "utf8").trim().split(/\s+/);
    return !(map.length === 3 && map[0] === "0" && map[1] === "0" && map[2] === "4294967295");
  } catch {
    return false;
  }
}

function untrustedDaemon(socketPath: string, uid: number): FzError {
  if (inUserNamespace()) {
    return new FzError(
      "untrusted_daemon",
      `this process runs inside a user namespace (for example under unshare -U or in a rootless ` +
        `container), where the owner of ${socketPath} shows as uid ${uid}, so firezoned cannot be ` +
        "verified from here and this client will not talk to it. Run the command outside the user namespace.",
    );
  }
  return new FzError(
    "untrusted_daemon",
    `the process serving ${socketPath} runs as uid ${uid}, not root: it is not firezoned. ` +
      "Refusing to talk to it; check what created that socket.",
  );
}

export class DaemonClient {
  readonly hello: Hello;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Set<(event: DaemonEvent) => void>();
  private readonly closeListeners = new Set<(reason: FzError) => void>();
  private closedWith: FzError | null = null;

  /** Use connectDaemon(). */
  constructor(
    private readonly socket: Socket<unknown>,
    private readonly outbox: Outbox,
    hello: Hello,
    private readonly timeoutMs: number,
  ) {
    this.hello = hello;
  }

  /** Sends one request and resolves with its result, or rejects with the daemon's FzError. */
  call<M extends MethodName>(
    method: M,
    params: Params<M>,
    options: { timeoutMs?: number } = {},
  ): Promise<Result<M>> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    const id = this.nextId++;
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new FzError("timeout", `firezoned did not answer '${method}' within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      if (!this.outbox.send(encodeFrame({ type: "request", id, method, params }))) {
        this.fail(new FzError("busy", "firezoned is not reading requests"));
      }
    });
  }

  /**
   * The whole resource list, read page by page from one version of it. Should the daemon have let
   * that version go (docs/ipc.md: it keeps the versions being read), it answers with the first page
   * of the current one, and the read starts over from there.
   */
  async allResources(): Promise<{ version: number; resources: IpcResource[] }> {
    let page = await this.call("resources", {});
    let version = page.version;
    let out = [...page.resources];
    while (page.next) {
      page = await this.call("resources", { cursor: page.next });
      if (page.version !== version) {
        version = page.version;
        out = [];
      }
      for (const r of page.resources) out.push(r);
    }
    return { version, resources: out };
  }

  /** Subscribes to pushed events; returns a function that stops delivery to this listener. */
  async subscribe(listener: (event: DaemonEvent) => void): Promise<() => void> {
    this.listeners.add(listener);
    await this.call("subscribe", {});
    return () => this.listeners.delete(listener);
  }

  onClose(listener: (reason: FzError) => void): void {
    this.closeListeners.add(listener);
  }

  close(): void {
    this.fail(new FzError("daemon_unreachable", "connection closed"), false);
    this.socket.end();
  }

  /** @internal Fed by the socket handlers. */
  deliver(message: v.InferOutput<typeof ServerMessage>): void {
    if (message.type === "event") {
      for (const l of this.listeners) l(message.event as DaemonEvent);
      return;
    }
    if (message.type !== "response") return;
    const pending = message.id === null ? undefined : this.pending.get(message.id);
    if (!pending) {
      // A reply without an id is the daemon closing the connection over bad input.
      if (!message.ok) this.fail(toFzError(message.error));
      return;
    }
    this.pending.delete(message.id!);
    clearTimeout(pending.timer);
    if (message.ok) pending.resolve(message.result);
    else pending.reject(toFzError(message.error));
  }

  /** @internal */
  fail(reason: FzError, notify = true): void {
    if (this.closedWith) return;
    this.closedWith = reason;
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(reason);
    }
    this.pending.clear();
    if (notify) for (const l of this.closeListeners) l(reason);
  }
}

function toFzError(error: { code: string; message: string; membership?: unknown }): FzError {
  // A permission refusal with a diagnosis is rebuilt from the diagnosis: its words and fix are ours.
  const membership = v.safeParse(MembershipSchema, error.membership);
  if (error.code === "permission_denied" && membership.success) return new MembershipError(membership.output);
  return new FzError(isErrorCode(error.code) ? error.code : "internal", error.message);
}

/**
 * A Unix socket whose accept queue is full refuses a non-blocking connect exactly as one nobody
 * listens on (ECONNREFUSED), so a refusal is retried for a moment before it is taken to mean that
 * firezoned is not running: a burst of clients then waits its turn instead of being told so.
 */
const REFUSED_RETRY_MS = 1000;

async function connectRetryingRefusals<T>(connect: () => Promise<T>, budgetMs: number): Promise<T> {
  const deadline = performance.now() + Math.min(REFUSED_RETRY_MS, budgetMs);
  for (let pause = 5; ; pause = Math.min(pause * 2, 100)) {
    try {
      return await connect();
    } catch (err) {
      const refused = (err as { code?: string }).code === "ECONNREFUSED";
      if (!refused || performance.now() + pause > deadline) throw err;
      await Bun.sleep(pause);
    }
  }
}

/** Connects to firezoned, verifies who holds the socket, and waits for its hello. */
export async function connectDaemon(options: ClientOptions = {}): Promise<DaemonClient> {
  const socketPath = options.socketPath ?? DEFAULT_SOCKET;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const requireRootPeer = options.requireRootPeer ?? true;
  const decoder = new FrameDecoder();
  let client: DaemonClient | null = null;
  let settle: { resolve: (c: DaemonClient) => void; reject: (e: FzError) => void } | null = null;
  let outbox: Outbox | null = null;
  // Set before any byte is read when the peer is not root's: nothing it sends is looked at.
  let untrusted: FzError | null = null;
  const ready = new Promise<DaemonClient>((resolve, reject) => {
    settle = { resolve, reject };
  });
  // Whatever settles `ready` after connectDaemon has already thrown must not become an unhandled rejection.
  ready.catch(() => {});
  const fail = (e: FzError) => {
    if (client) client.fail(e);
    else settle?.reject(e);
  };

  let socket: Socket<unknown>;
  try {
    socket = await connectRetryingRefusals(
      () =>
        Bun.connect({
          unix: socketPath,
          socket: {
            open(s) {
              if (!requireRootPeer) return;
              // The socket's peer, as the kernel recorded it at connect, checked before its first byte.
              let uid: number | null = null;
              try {
                uid = peerCredentials((s as unknown as { fd: number }).fd).uid;
              } catch {
                // Already gone: the close handler reports it.
              }
              if (uid !== null && uid !== 0) {
                untrusted = untrustedDaemon(socketPath, uid);
                settle?.reject(untrusted);
                s.end();
              }
            },
            data(s, chunk) {
              if (untrusted) return;
              let messages: unknown[];
              try {
                messages = decoder.push(chunk);
              } catch (e) {
                fail(e instanceof FzError ? e : new FzError("internal", "unreadable reply from firezoned"));
                s.end();
                return;
              }
              for (const raw of messages) {
                const parsed = v.safeParse(ServerMessage, raw);
                if (!parsed.success) {
                  fail(
                    new FzError(
                      "protocol_mismatch",
                      "firezoned sent a message this client does not understand",
                    ),
                  );
                  s.end();
                  return;
                }
                const msg = parsed.output;
                if (client) client.deliver(msg);
                else if (msg.type === "refused") settle?.reject(toFzError(msg.error));
                else if (msg.type === "hello") {
                  if (msg.protocol !== PROTOCOL_VERSION) {
                    const relation = msg.protocol < PROTOCOL_VERSION ? "older" : "newer";
                    settle?.reject(
                      new FzError(
                        "protocol_mismatch",
                        `firezoned ${msg.daemonVersion} speaks protocol ${msg.protocol} and this client speaks ` +
                          `${PROTOCOL_VERSION}: the daemon is ${relation} than this client. Install matching versions ` +
                          "and restart the daemon: sudo systemctl restart firezoned",
                      ),
                    );
                    s.end();
                    return;
                  }
                  client = new DaemonClient(s, outbox!, msg, timeoutMs);
                  settle?.resolve(client);
                }
              }
            },
            drain() {
              outbox?.flush();
            },
            close() {
              fail(new FzError("daemon_unreachable", "firezoned closed the connection"));
            },
            error(_s, err) {
              fail(new FzError("daemon_unreachable", `connection to firezoned failed: ${err.message}`));
            },
          },
        }),
      timeoutMs,
    );
  } catch (err) {
    throw connectError(err, socketPath);
  }
  outbox = new Outbox(socket, 16 * 1024 * 1024);
  const timer = setTimeout(() => {
    fail(new FzError("timeout", `firezoned at ${socketPath} did not greet within ${timeoutMs} ms`));
    socket.end();
  }, timeoutMs);
  try {
    return await ready;
  } finally {
    clearTimeout(timer);
  }
}
