// A portal of the tests' own, speaking docs/portal-protocol.md (Phoenix v1 frames over WebSocket)
// and saying whatever the test tells it to, valid or not: the adversarial tests and bench/routes.ts
// drive it. It runs as its own process (in a namespace of the test's) and takes one JSON command per
// stdin line; it answers `ok <n>` on stdout after command n, and reports what clients did:
//
//   {"init": PAYLOAD}                      the init sent on every later join (and now, if joined)
//   {"push": {"event": E, "payload": P}}   a push to the joined client
//   {"reply": {"id": R, "status": "ok"|"error", "response": X}}   the answer to request_connection R
//   {"replies": [{"id": R, ...}, ...]}     many of the above at once
//   {"default_reply": {...}}               the answer for resources without a reply of their own
//   {"raw": TEXT}                          a text frame sent as is
//
// stdout also gets `joined <public key>` on each join, and `requests <n>` once per 1,000 requests.
//
//   bun tests/_support/test_portal.ts --listen 10.77.1.1:8080
import { parseArgs } from "node:util";
import type { ServerWebSocket } from "bun";

const { values } = parseArgs({ options: { listen: { type: "string", default: "127.0.0.1:8080" } } });
const [host, port] = values.listen!.split(/:(?=\d+$)/) as [string, string];

let init: unknown = null;
const replies = new Map<string, { status: string; response: unknown }>();
let defaultReply: { status: string; response: unknown } = {
  status: "error",
  response: { reason: "offline" },
};
let client = null as ServerWebSocket<unknown> | null;
let requests = 0;

const frame = (event: string, payload: unknown, ref: string | null = null, topic = "client") =>
  JSON.stringify({ topic, event, payload, ref });
const say = (line: string) => process.stdout.write(`${line}\n`);

Bun.serve({
  hostname: host,
  port: Number(port),
  fetch(req, server) {
    if (!req.headers.get("x-authorization")) return new Response("no token", { status: 401 });
    if (server.upgrade(req)) return undefined;
    return new Response("websocket only", { status: 400 });
  },
  websocket: {
    // Frames of several MB (20,000 resources, a 1.1 MB name) are the point of some tests.
    maxPayloadLength: 64 * 1024 * 1024,
    message(ws, text) {
      const f = JSON.parse(String(text)) as { topic: string; event: string; payload: unknown; ref: string };
      if (f.event === "heartbeat") {
        ws.send(frame("phx_reply", { status: "ok", response: {} }, f.ref, "phoenix"));
        return;
      }
      if (f.event === "phx_join") {
        client = ws;
        ws.send(frame("phx_reply", { status: "ok", response: {} }, f.ref));
        say(`joined ${(f.payload as { public_key: string }).public_key}`);
        if (init) ws.send(frame("init", init));
        return;
      }
      if (f.event === "request_connection") {
        const id = (f.payload as { resource_id: string }).resource_id;
        if (++requests % 1000 === 0) say(`requests ${requests}`);
        const r = replies.get(id) ?? defaultReply;
        ws.send(frame("phx_reply", r, f.ref));
      }
    },
    close(ws) {
      if (client === ws) client = null;
    },
  },
});
say("listening");

let n = 0;
let buffered = "";
for await (const chunk of Bun.stdin.stream()) {
  buffered += new TextDecoder().decode(chunk);
  let nl = buffered.indexOf("\n");
  while (nl >= 0) {
    const line = buffered.slice(0, nl);
    buffered = buffered.slice(nl + 1);
    nl = buffered.indexOf("\n");
    if (!line.trim()) continue;
    const cmd = JSON.parse(line) as Record<string, never>;
    if ("init" in cmd) {
      init = cmd.init;
      client?.send(frame("init", init));
    }
    if ("push" in cmd) {
      const p = cmd.push as { event: string; payload: unknown };
      client?.send(frame(p.event, p.payload));
    }
    if ("reply" in cmd) {
      const r = cmd.reply as { id: string; status: string; response: unknown };
      replies.set(r.id, { status: r.status, response: r.response });
    }
    if ("replies" in cmd) {
      for (const r of cmd.replies as Array<{ id: string; status: string; response: unknown }>)
        replies.set(r.id, { status: r.status, response: r.response });
    }
    if ("default_reply" in cmd) defaultReply = cmd.default_reply;
    if ("raw" in cmd) client?.send(cmd.raw as string);
    say(`ok ${++n}`);
  }
}
