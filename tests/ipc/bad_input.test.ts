// Bad input against a running firezoned: each case gets a clear error or a closed connection,
// and afterwards the daemon still answers at once without having grown without bound.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { connectDaemon, encodeFrame } from "../../lib/ipc/index.ts";
import { FIREZONECTL } from "../_support/build.ts";
import { startDaemon, type TestDaemon, waitFor } from "../_support/daemon.ts";
import { frames, RawSocket } from "../_support/raw_socket.ts";
import { TestAccounts } from "../_support/users.ts";

const accounts = new TestAccounts();
let daemon: TestDaemon;
let rssBefore = 0;

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1] ?? 0);
}

function request(id: number, method: string, params: unknown = {}): Uint8Array {
  return encodeFrame({ type: "request", id, method, params });
}

/** Sends `bytes` after the hello and returns what came back before the daemon closed. */
async function exchange(
  bytes: Uint8Array,
  timeoutMs = 2000,
): Promise<{ replies: unknown[]; closed: boolean }> {
  const s = new RawSocket(daemon.socketPath);
  try {
    s.send(bytes);
    const { data, closed } = await s.readUntilClosed(timeoutMs);
    return { replies: frames(data).slice(1), closed };
  } finally {
    s.close();
  }
}

beforeAll(async () => {
  daemon = await startDaemon(accounts.group());
  rssBefore = rssKiB(daemon.proc.pid);
});

afterAll(async () => {
  await daemon?.stop();
  accounts.cleanup();
});

describe("bad input", () => {
  test("random bytes get an error reply and a closed connection", async () => {
    const junk = new Uint8Array(4096);
    crypto.getRandomValues(junk);
    junk.set([0, 0, 0, 200], 0);
    const { replies, closed } = await exchange(junk);
    expect(closed).toBe(true);
    expect(replies).toEqual([expect.objectContaining({ type: "response", ok: false })]);
  });

  test("a length of 4 GiB is refused with frame_too_large at once", async () => {
    const { replies, closed } = await exchange(new Uint8Array([0xff, 0xff, 0xff, 0xff]));
    expect(closed).toBe(true);
    expect((replies[0] as { error: { code: string } }).error.code).toBe("frame_too_large");
  });

  test("a frame that stops halfway is closed after the frame timeout with a timeout error", async () => {
    const frame = request(1, "status");
    const { replies, closed } = await exchange(frame.subarray(0, frame.length - 3), 8000);
    expect(closed).toBe(true);
    expect((replies[0] as { error: { code: string } }).error.code).toBe("timeout");
  });

  test("invalid JSON is refused with invalid_request", async () => {
    const { replies, closed } = await exchange(new Uint8Array([0, 0, 0, 5, 0x7b, 0x22, 0x61, 0x22, 0x3a]));
    expect(closed).toBe(true);
    expect((replies[0] as { error: { code: string } }).error.code).toBe("invalid_request");
  });

  test("a message that fails the envelope schema is refused and names the field", async () => {
    const { replies } = await exchange(encodeFrame({ type: "request", id: "x", method: "status" }));
    const error = (replies[0] as { error: { code: string; message: string } }).error;
    expect(error.code).toBe("invalid_request");
    expect(error.message).toContain("id");
  });

  test("an unknown method gets unknown_method and the connection stays usable", async () => {
    const both = new Uint8Array([...request(1, "reboot"), ...request(2, "status")]);
    const { replies } = await exchange(both, 500);
    expect(replies[0]).toMatchObject({ id: 1, ok: false, error: { code: "unknown_method" } });
    expect(replies[1]).toMatchObject({ id: 2, ok: true, result: { state: "signed_out" } });
  });

  test("bad parameters get invalid_request without closing", async () => {
    const { replies, closed } = await exchange(request(3, "sign_in", { token: "" }), 500);
    expect(closed).toBe(false);
    expect(replies[0]).toMatchObject({ id: 3, ok: false, error: { code: "invalid_request" } });
  });

  test("300 simultaneous idle connections do not stop a fresh status from answering within a second", async () => {
    const idle = Array.from({ length: 300 }, () => new RawSocket(daemon.socketPath));
    try {
      await Bun.sleep(200);
      const started = performance.now();
      const r = Bun.spawnSync([FIREZONECTL, "status", "--json"], {
        env: { FIREZONE_SOCKET: daemon.socketPath },
      });
      expect(r.exitCode).toBe(0);
      expect(performance.now() - started).toBeLessThan(1000);
    } finally {
      for (const s of idle) s.close();
    }
  });

  test("a subscriber that never reads is dropped instead of growing the daemon's memory", async () => {
    const lazy = new RawSocket(daemon.socketPath);
    lazy.send(request(1, "subscribe"));
    await Bun.sleep(100);
    // Each sign-out request pushes a status event (about 300 bytes) to every subscriber; the
    // backlog limit is 4 MiB, so some 15,000 events must pile up before the daemon gives up on it.
    const busy = await connectDaemon({ socketPath: daemon.socketPath });
    for (let batch = 0; batch < 2000 && !daemon.stderr().includes("dropping a subscriber"); batch++) {
      await Promise.all(Array.from({ length: 30 }, () => busy.call("sign_out", {})));
    }
    await waitFor(
      () => daemon.stderr().includes("dropping a subscriber"),
      5000,
      "the slow subscriber to be dropped",
    );
    busy.close();
    lazy.close();
    expect(rssKiB(daemon.proc.pid) - rssBefore).toBeLessThan(64 * 1024);
  });

  test("afterwards firezonectl status answers within a second and memory stayed bounded", async () => {
    const started = performance.now();
    const r = Bun.spawnSync([FIREZONECTL, "status"], { env: { FIREZONE_SOCKET: daemon.socketPath } });
    expect(r.exitCode).toBe(0);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(daemon.proc.exitCode).toBeNull();
    const grownMiB = (rssKiB(daemon.proc.pid) - rssBefore) / 1024;
    expect(grownMiB).toBeLessThan(64);
  });
});
