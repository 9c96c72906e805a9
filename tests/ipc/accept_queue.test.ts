// A full accept queue refuses a Unix connect with the same ECONNREFUSED as a socket nobody listens
// on. Clients wait their turn for a moment instead of saying that firezoned is not running; a socket
// that stays refused is still reported as a daemon that is not running.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Socket, Subprocess } from "bun";
import { connectDaemon } from "../../lib/ipc/index.ts";

let dir: string;
let socketPath: string;
let server: Subprocess<"ignore", "pipe", "pipe">;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "fz-accept-"));
  socketPath = join(dir, "ipc.sock");
  server = Bun.spawn([process.execPath, join(import.meta.dir, "fixtures/slow_accept.ts"), socketPath], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  // The socket file appears before the backlog is cut to 0: wait for the line printed after it.
  const reader = server.stdout.getReader();
  let out = "";
  while (!out.includes("listening\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the server exited: ${out}${await new Response(server.stderr).text()}`);
    out += new TextDecoder().decode(value);
  }
  reader.releaseLock();
});

afterAll(() => {
  server?.kill("SIGKILL");
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const open = () => Bun.connect({ unix: socketPath, socket: { data() {} } });

describe("a full accept queue", () => {
  test("a client waits for the daemon to accept instead of calling it not running", async () => {
    server.kill("SIGSTOP");
    const queued: Socket<unknown>[] = [];
    try {
      // Fill the queue until the kernel refuses: from here on a connect is refused until it drains.
      let refused = false;
      for (let i = 0; i < 8 && !refused; i++) {
        try {
          queued.push(await open());
        } catch (err) {
          expect((err as { code?: string }).code).toBe("ECONNREFUSED");
          refused = true;
        }
      }
      expect(refused).toBe(true);
      const client = connectDaemon({ socketPath, timeoutMs: 5000 });
      setTimeout(() => server.kill("SIGCONT"), 300);
      const c = await client;
      expect(c.hello.daemonVersion).toBe("0.0.0-test");
      c.close();
    } finally {
      server.kill("SIGCONT");
      for (const s of queued) s.end();
    }
  });

  test("a socket nobody listens on is still reported as a daemon that is not running", async () => {
    server.kill("SIGKILL");
    await server.exited;
    expect(Bun.spawnSync(["test", "-S", socketPath]).exitCode).toBe(0);
    const err = await connectDaemon({ socketPath, timeoutMs: 5000 }).then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.message).toContain("firezoned is not running (nothing is listening on");
  });
});
