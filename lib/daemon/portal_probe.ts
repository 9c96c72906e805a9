// Can the daemon reach its portal, step by step as a connection is built: the name resolves, TCP
// connects, TLS verifies (with ca_file), and the WebSocket endpoint answers an upgrade. Every step
// is asynchronous and bounded, so `firezonectl doctor` never holds the daemon's event loop.
import { lookup } from "node:dns/promises";
import { connect as netConnect, type Socket } from "node:net";
import { rootCertificates, connect as tlsConnect } from "node:tls";
import type { Check } from "../ipc/index.ts";
import { portalWebSocketUrl } from "../portal/index.ts";
import { displayText } from "../util/index.ts";
import type { PortalConfig } from "./config.ts";

const STEP_TIMEOUT_MS = 5000;
/** The most of the upgrade answer read: its status line and headers. */
const MAX_HEAD = 16 * 1024;

export interface ProbeResult {
  checks: Check[];
  /** The portal's clock from its `Date` header, when it answered. */
  portalDate: number | null;
}

type Configured = Extract<PortalConfig, { configured: true }>;

const show = (s: string) => displayText(s, 300);

function skip(id: string, title: string, why: string): Check {
  return { id, title, status: "skip", detail: why };
}

function withTimeout<T>(p: Promise<T>, what: string, ms = STEP_TIMEOUT_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took more than ${ms / 1000} s`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function connectTcp(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = netConnect({ host, port });
    s.once("connect", () => resolve(s));
    s.once("error", (err) => {
      s.destroy();
      reject(err);
    });
  });
}

/** Sends a WebSocket upgrade (without the token: a probe proves the endpoint, not the account) and reads the answer's head. */
function upgrade(socket: Socket, url: URL): Promise<{ status: number; date: string | null }> {
  return new Promise((resolve, reject) => {
    let head = "";
    const done = (err: Error | null, value?: { status: number; date: string | null }) => {
      socket.removeAllListeners("data");
      socket.destroy();
      if (err) reject(err);
      else resolve(value!);
    };
    socket.on("data", (chunk: Buffer) => {
      head += chunk.toString("latin1");
      const end = head.indexOf("\r\n\r\n");
      if (end < 0 && head.length < MAX_HEAD) return;
      const lines = head.slice(0, end < 0 ? MAX_HEAD : end).split("\r\n");
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? "");
      if (!m) return done(new Error("the answer is not HTTP"));
      const date =
        lines
          .find((l) => /^date:/i.test(l))
          ?.slice(5)
          .trim() ?? null;
      done(null, { status: Number(m[1]), date });
    });
    socket.once("error", (err) => done(err));
    socket.once("end", () => done(new Error("the portal closed the connection without an answer")));
    const key = Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("base64");
    socket.write(
      `GET ${url.pathname}?vsn=2.0.0 HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\nUser-Agent: firezoned-doctor\r\n\r\n`,
    );
  });
}

/** Runs the steps in order; a step that fails makes the later ones `skip`. Never throws. */
export async function probePortal(portal: Configured): Promise<ProbeResult> {
  const checks: Check[] = [];
  let url: URL;
  try {
    url = new URL(portalWebSocketUrl(portal.url, "client", { allowInsecure: portal.allowInsecure }));
  } catch (err) {
    return {
      checks: [
        {
          id: "portal_dns",
          title: "Portal URL",
          status: "fail",
          detail: show((err as Error).message),
          fix: "sudoedit /etc/firezoned/firezoned.conf (portal_url = wss://portal.example.com)",
        },
      ],
      portalDate: null,
    };
  }
  const secure = url.protocol === "wss:";
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const port = Number(url.port || (secure ? 443 : 80));
  const rest = (why: string) => {
    for (const [id, title] of [
      ["portal_dns", "Portal name resolves"],
      ["portal_tcp", "Portal accepts TCP"],
      ["portal_tls", "Portal TLS certificate"],
      ["portal_websocket", "Portal WebSocket upgrade"],
    ] as const) {
      if (!checks.some((c) => c.id === id)) checks.push(skip(id, title, why));
    }
  };

  let address: string;
  try {
    const all = await withTimeout(lookup(host, { all: true }), `resolving ${host}`);
    if (all.length === 0) throw new Error("no address");
    address = all[0]!.address;
    checks.push({
      id: "portal_dns",
      title: "Portal name resolves",
      status: "pass",
      detail: `${show(host)} -> ${all.map((a) => a.address).join(", ")}`,
    });
  } catch (err) {
    checks.push({
      id: "portal_dns",
      title: "Portal name resolves",
      status: "fail",
      detail: `${show(host)} does not resolve from firezoned: ${show((err as Error).message)}`,
      fix: `resolvectl query ${host}   # then fix the system's DNS, or portal_url in /etc/firezoned/firezoned.conf`,
    });
    rest("the portal's name did not resolve");
    return { checks, portalDate: null };
  }

  let tcp: Socket;
  try {
    tcp = await withTimeout(connectTcp(address, port), `connecting to ${address}:${port}`);
    checks.push({
      id: "portal_tcp",
      title: "Portal accepts TCP",
      status: "pass",
      detail: `connected to ${address} port ${port}`,
    });
  } catch (err) {
    checks.push({
      id: "portal_tcp",
      title: "Portal accepts TCP",
      status: "fail",
      detail: `cannot connect to ${address} port ${port}: ${show((err as Error).message)}`,
      fix: `nc -vz ${host} ${port}   # a firewall or proxy blocks it, or the portal is down; ask your administrator`,
    });
    rest("TCP did not connect");
    return { checks, portalDate: null };
  }

  let stream: Socket = tcp;
  if (secure) {
    tcp.destroy();
    try {
      stream = await withTimeout(
        new Promise<Socket>((resolve, reject) => {
          const s = tlsConnect({
            host: address,
            port,
            servername: host,
            ca: portal.ca ? [...rootCertificates, portal.ca] : undefined,
          });
          s.once("secureConnect", () => resolve(s));
          s.once("error", (err) => {
            s.destroy();
            reject(err);
          });
        }),
        "the TLS handshake",
      );
      checks.push({
        id: "portal_tls",
        title: "Portal TLS certificate",
        status: "pass",
        detail: `verified for ${show(host)}${portal.ca ? " (with ca_file)" : ""}`,
      });
    } catch (err) {
      checks.push({
        id: "portal_tls",
        title: "Portal TLS certificate",
        status: "fail",
        detail: `TLS to ${show(host)} failed: ${show((err as Error).message)}`,
        fix: "copy the portal's CA certificate (PEM) to /etc/firezoned/portal-ca.pem, set ca_file = /etc/firezoned/portal-ca.pem in /etc/firezoned/firezoned.conf, then: sudo systemctl restart firezoned",
      });
      rest("TLS failed");
      return { checks, portalDate: null };
    }
  } else {
    checks.push(
      skip(
        "portal_tls",
        "Portal TLS certificate",
        "plaintext portal (allow_insecure_portal is set; for labs only): no TLS to check",
      ),
    );
  }

  try {
    const answer = await withTimeout(upgrade(stream, url), "the WebSocket upgrade");
    // 101: upgraded. 401/403: the endpoint is a WebSocket one and wants the token, which a probe does not send.
    const ok = answer.status === 101 || answer.status === 401 || answer.status === 403;
    checks.push({
      id: "portal_websocket",
      title: "Portal WebSocket upgrade",
      status: ok ? "pass" : "fail",
      detail: ok
        ? `${url.pathname} answered ${answer.status}`
        : `${url.pathname} answered HTTP ${answer.status} instead of a WebSocket upgrade (a proxy in the way, or the wrong path)`,
      ...(ok
        ? {}
        : {
            fix: "check portal_url in /etc/firezoned/firezoned.conf (wss://host[:port][/path]) and any HTTP proxy between this host and the portal",
          }),
    });
    const date = answer.date ? Date.parse(answer.date) : Number.NaN;
    return { checks, portalDate: Number.isFinite(date) ? date : null };
  } catch (err) {
    stream.destroy();
    checks.push({
      id: "portal_websocket",
      title: "Portal WebSocket upgrade",
      status: "fail",
      detail: `no answer to the WebSocket upgrade: ${show((err as Error).message)}`,
      fix: "check portal_url in /etc/firezoned/firezoned.conf and any HTTP proxy between this host and the portal",
    });
    return { checks, portalDate: null };
  }
}
