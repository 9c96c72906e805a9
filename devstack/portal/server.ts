// The devstack portal: Bun.serve with the browser sign-in page, the `client` and `gateway` WebSocket
// endpoints (Phoenix-channel framing), and a poll of sqlite's data_version so commits made by the
// admin CLI reach connected clients and gateways within a few hundred milliseconds.
import type { Server, ServerWebSocket } from "bun";
import { encodeFrame, parseFrame } from "../../lib/portal/index.ts";
import { createLogger, type Logger } from "../../lib/util/index.ts";
import { type Conn, Hub } from "./hub.ts";
import { handleSignIn, SIGN_IN_DEFAULT_TTL_MS } from "./signin.ts";
import { Store, type TokenCheck } from "./store.ts";

export interface PortalOptions {
  /** The sqlite file; created if missing. */
  dbPath: string;
  /** Default 127.0.0.1. */
  hostname?: string;
  /** Default 0: any free port. */
  port?: number;
  logger?: Logger;
  /** A socket that sends nothing (not even a heartbeat) for this long is closed. Default 30 s. */
  idleTimeoutMs?: number;
  /** How often to look for commits from other processes, and check expiries. Default 100 ms. */
  pollMs?: number;
  accessAckTimeoutMs?: number;
  /** Lifetime of tokens minted by the browser sign-in. Default 7 days. */
  signInTokenTtlMs?: number;
  /** Serve HTTPS/WSS with this PEM certificate and key (tests of the client's TLS checks). */
  tls?: { cert: string; key: string };
}

export interface Portal {
  /** `http://host:port` (`https://` with `tls`): the base URL for FIREZONE_API_URL and the sign-in page. */
  readonly url: string;
  readonly port: number;
  readonly store: Store;
  /** Joined clients and gateways right now. */
  counts(): { clients: number; gateways: number };
  /** Pushes store changes made in this process (tests) without waiting for the poll. */
  reconcile(): void;
  stop(): Promise<void>;
}

interface WsData {
  topic: "client" | "gateway";
  auth: TokenCheck;
  conn?: Conn;
  lastSeen: number;
}

function bearer(req: Request): string | undefined {
  const h = req.headers.get("x-authorization") ?? "";
  const m = /^Bearer\s+(\S+)$/i.exec(h.trim());
  return m?.[1];
}

export function startPortal(options: PortalOptions): Portal {
  const log = options.logger ?? createLogger({ name: "portal" });
  const store = new Store(options.dbPath);
  const hub = new Hub({ store, logger: log, accessAckTimeoutMs: options.accessAckTimeoutMs ?? 5_000 });
  const idleTimeoutMs = options.idleTimeoutMs ?? 30_000;
  const sockets = new Set<ServerWebSocket<WsData>>();

  const server: Server<WsData> = Bun.serve<WsData>({
    hostname: options.hostname ?? "127.0.0.1",
    port: options.port ?? 0,
    ...(options.tls ? { tls: options.tls } : {}),
    async fetch(req, srv) {
      const url = new URL(req.url);
      const m = /^\/(client|gateway)\/websocket$/.exec(url.pathname);
      if (m) {
        const topic = m[1] as "client" | "gateway";
        const token = bearer(req);
        const auth: TokenCheck = token ? store.checkToken(token, topic) : { ok: false, reason: "invalid" };
        // Upgrade even with a bad token: the refusal then arrives as `invalid_token` + close 4001,
        // which a WebSocket client can see (an HTTP 401 on the upgrade it usually cannot).
        if (srv.upgrade(req, { data: { topic, auth, lastSeen: Date.now() } })) return undefined;
        return Response.json({ error: "expected a WebSocket upgrade" }, { status: auth.ok ? 400 : 401 });
      }
      if (url.pathname === "/healthz") return new Response("ok\n");
      if (url.pathname === "/") {
        return new Response(
          "Firezone devstack portal. Sign in at /<account-slug>?as=gui-client&state=..&nonce=..\n",
        );
      }
      return handleSignIn(req, url, store, {
        tokenTtlMs: options.signInTokenTtlMs ?? SIGN_IN_DEFAULT_TTL_MS,
        logger: log,
      });
    },
    websocket: {
      idleTimeout: 0,
      open(ws) {
        sockets.add(ws);
        const conn: Conn = {
          send: (text) => {
            ws.send(text);
          },
          close: (code, reason) => ws.close(code, reason),
        };
        ws.data.conn = conn;
        if (!ws.data.auth.ok) {
          const reason = ws.data.auth.reason;
          ws.send(encodeFrame(ws.data.topic, "invalid_token", { reason }));
          ws.close(4001, reason);
        }
      },
      message(ws, message) {
        ws.data.lastSeen = Date.now();
        const conn = ws.data.conn!;
        const frame = typeof message === "string" ? parseFrame(message) : undefined;
        if (!frame) {
          ws.close(1003, "expected JSON text frames {topic, event, payload, ref}");
          return;
        }
        const reply = (status: "ok" | "error", response: unknown) => {
          if (frame.ref != null)
            ws.send(encodeFrame(frame.topic, "phx_reply", { status, response }, frame.ref));
        };
        try {
          if (frame.topic === "phoenix" && frame.event === "heartbeat") {
            reply("ok", {});
            return;
          }
          if (frame.topic !== ws.data.topic) {
            reply("error", { reason: "unmatched topic" });
            return;
          }
          if (frame.event === "phx_join") {
            if (!ws.data.auth.ok) return;
            const tokenId = ws.data.auth.token.id;
            if (ws.data.topic === "client") hub.joinClient(conn, tokenId, frame.payload, reply);
            else hub.joinGateway(conn, tokenId, frame.payload, reply);
            return;
          }
          if (!hub.isJoined(conn)) {
            reply("error", { reason: "not_joined" });
            return;
          }
          if (frame.topic === "client" && frame.event === "request_connection") {
            hub.requestConnection(conn, frame.payload, reply).catch((e: unknown) => {
              // A rejection left unhandled would end the portal for every member.
              log.error("request_connection failed", { error: e });
            });
          } else if (frame.topic === "gateway" && frame.event === "access_allowed") {
            hub.accessAllowed(conn, frame.payload, reply);
          } else if (frame.topic === "gateway" && frame.event === "init_done") {
            hub.initDone(conn, reply);
          } else {
            reply("error", { reason: "unknown_event" });
          }
        } catch (e) {
          log.error("handling a frame failed", { event: frame.event, error: e });
          reply("error", { reason: "internal" });
        }
      },
      close(ws) {
        sockets.delete(ws);
        if (ws.data.conn) hub.leave(ws.data.conn);
      },
    },
  });

  let version = store.dataVersion();
  let lastFull = Date.now();
  const tick = setInterval(() => {
    try {
      const now = Date.now();
      const v = store.dataVersion();
      // A commit by another process, or once a second for expiries.
      if (v !== version || now - lastFull >= 1000) {
        version = v;
        lastFull = now;
        hub.reconcile();
      }
      for (const ws of sockets) {
        if (now - ws.data.lastSeen > idleTimeoutMs) ws.close(4000, "heartbeat timeout");
      }
    } catch (e) {
      log.error("reconcile failed", { error: e });
    }
  }, options.pollMs ?? 100);

  const url = `${options.tls ? "https" : "http"}://${server.hostname}:${server.port}`;
  log.info("portal listening", { url, db: options.dbPath });
  return {
    url,
    port: server.port!,
    store,
    counts: () => hub.counts,
    reconcile: () => hub.reconcile(),
    async stop() {
      clearInterval(tick);
      for (const ws of sockets) ws.close(1001, "portal shutting down");
      await server.stop(true);
      hub.close();
      store.close();
    },
  };
}
