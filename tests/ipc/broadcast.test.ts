// No event can take the daemon down: an event too large for a frame is logged and not sent, and the
// subscribers stay connected and get the next one. Real server and client on a real Unix socket.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  connectDaemon,
  type DaemonEvent,
  type Handlers,
  IpcServer,
  PROTOCOL_VERSION,
  type Status,
} from "../../lib/ipc/index.ts";
import { createLogger } from "../../lib/util/index.ts";

const dir = mkdtempSync(join(tmpdir(), "fz-bcast-"));
const logged: string[] = [];
const status: Status = {
  state: "connected",
  mode: "interactive",
  daemonVersion: "0.1.0",
  protocol: PROTOCOL_VERSION,
  pid: process.pid,
  uptimeSeconds: 1,
  resourceCount: 0,
};
const server = new IpcServer({
  socketPath: join(dir, "ipc.sock"),
  handlers: { status: () => status } as unknown as Handlers,
  // The caller is this test's own process; its credentials are read for real, its tier granted.
  authorize: {
    admit: (peer) => ({
      uid: peer.uid,
      gid: peer.gid,
      pid: peer.pid,
      user: "test",
      exe: null,
      tier: "admin",
    }),
    mayChange: async () => {},
  },
  daemonVersion: "0.1.0",
  logger: createLogger({ name: "ipc", level: "warn", write: (line) => logged.push(line) }),
});
server.start();

afterAll(() => {
  server.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("broadcast", () => {
  test("an event over the frame cap is logged and dropped; subscribers get the next one", async () => {
    const client = await connectDaemon({ socketPath: join(dir, "ipc.sock"), requireRootPeer: false });
    const events: DaemonEvent[] = [];
    await client.subscribe((e) => events.push(e));
    expect(() =>
      server.broadcast({ kind: "status", status: { ...status, lastError: "x".repeat(2 * 1024 * 1024) } }),
    ).not.toThrow();
    server.broadcast({ kind: "resources_changed", version: 2, total: 0 });
    const until = Date.now() + 5000;
    while (events.length === 0 && Date.now() < until) await Bun.sleep(10);
    expect(events).toEqual([{ kind: "resources_changed", version: 2, total: 0 }]);
    expect(logged.join("\n")).toContain("could not be encoded");
    expect(await client.call("status", {})).toMatchObject({ state: "connected" });
    client.close();
  });
});
