// The per-user socket $XDG_RUNTIME_DIR/firezone/gui.sock: it keeps firezone-gui to one instance per
// user and carries deep links from `firezone-gui open-deep-link` to the running instance.
import { chmodSync, existsSync, lstatSync, mkdirSync, unlinkSync } from "node:fs";
import type { Socket, UnixSocketListener } from "bun";
import * as v from "valibot";

export const InstanceMessage = v.variant("type", [
  v.object({ type: v.literal("activate") }),
  v.object({ type: v.literal("deep-link"), url: v.pipe(v.string(), v.maxLength(8192)) }),
]);
export type InstanceMessage = v.InferOutput<typeof InstanceMessage>;
export type InstanceReply = { ok: true } | { ok: false; error: string };

const MAX_LINE = 16 * 1024;

/** Makes the directory 0700 and ours; refuses one that belongs to someone else. */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(dir);
  if (!st.isDirectory()) throw new Error(`${dir} is not a directory; remove it and start firezone-gui again`);
  if (st.uid !== process.getuid?.())
    throw new Error(`${dir} belongs to uid ${st.uid}, not to you; remove it`);
  if ((st.mode & 0o077) !== 0) chmodSync(dir, 0o700);
}

/** Sends one message to the running instance; null when none answers. */
export async function sendToInstance(
  path: string,
  message: InstanceMessage,
  timeoutMs = 3000,
): Promise<InstanceReply | null> {
  if (!existsSync(path)) return null;
  return new Promise((resolve) => {
    let buffer = "";
    let done = false;
    const finish = (reply: InstanceReply | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(reply);
    };
    const timer = setTimeout(() => finish(null), timeoutMs);
    Bun.connect({
      unix: path,
      socket: {
        open(s) {
          s.write(`${JSON.stringify(message)}\n`);
        },
        data(s, chunk) {
          buffer += chunk.toString();
          const nl = buffer.indexOf("\n");
          if (nl < 0) return;
          try {
            finish(JSON.parse(buffer.slice(0, nl)) as InstanceReply);
          } catch {
            finish({ ok: false, error: "unreadable reply from firezone-gui" });
          }
          s.end();
        },
        close() {
          finish(null);
        },
        error() {
          finish(null);
        },
      },
    }).catch(() => finish(null));
  });
}

interface ConnState {
  buffer: string;
  handled: boolean;
}

export type InstanceHandler = (message: InstanceMessage) => Promise<InstanceReply> | InstanceReply;

/**
 * Becomes the one instance: returns "running" when another instance answers, otherwise listens
 * (replacing a stale socket left by a crash) and hands each message to `handler`.
 */
export async function claimInstance(
  path: string,
  handler: InstanceHandler,
): Promise<{ kind: "running" } | { kind: "claimed"; stop: () => void }> {
  for (let attempt = 0; attempt < 3; attempt++) {
    if (await sendToInstance(path, { type: "activate" }, 1500)) return { kind: "running" };
    try {
      if (existsSync(path)) unlinkSync(path);
      const listener = listen(path, handler);
      return {
        kind: "claimed",
        stop: () => {
          listener.stop(true);
          try {
            unlinkSync(path);
          } catch {}
        },
      };
    } catch (err) {
      // Another instance won the race between our probe and our bind: probe it again.
      if ((err as { code?: string }).code !== "EADDRINUSE") throw err;
    }
  }
  return { kind: "running" };
}

function listen(path: string, handler: InstanceHandler): UnixSocketListener<ConnState> {
  const reply = (s: Socket<ConnState>, r: InstanceReply) => {
    s.write(`${JSON.stringify(r)}\n`);
    s.end();
  };
  return Bun.listen<ConnState>({
    unix: path,
    socket: {
      open(s) {
        s.data = { buffer: "", handled: false };
      },
      async data(s, chunk) {
        if (s.data.handled) return;
        s.data.buffer += chunk.toString();
        if (s.data.buffer.length > MAX_LINE) return reply(s, { ok: false, error: "message too long" });
        const nl = s.data.buffer.indexOf("\n");
        if (nl < 0) return;
        s.data.handled = true;
        let parsed: v.SafeParseResult<typeof InstanceMessage>;
        try {
          parsed = v.safeParse(InstanceMessage, JSON.parse(s.data.buffer.slice(0, nl)));
        } catch {
          return reply(s, { ok: false, error: "not JSON" });
        }
        if (!parsed.success) return reply(s, { ok: false, error: "unknown message" });
        try {
          reply(s, await handler(parsed.output));
        } catch (err) {
          reply(s, { ok: false, error: (err as Error).message });
        }
      },
    },
  });
}
