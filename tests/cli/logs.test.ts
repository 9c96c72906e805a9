// `firezonectl logs`: members read the daemon's log over IPC, in pages under the frame cap, and
// --follow prints lines the daemon writes after it started.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseSince } from "../../lib/cli/logs.ts";
import { LogRing } from "../../lib/daemon/log_ring.ts";
import { LOG_PAGE_BYTES, MAX_FRAME_BYTES } from "../../lib/ipc/index.ts";
import { ensureBuilt, FIREZONECTL } from "../_support/build.ts";
import { startDaemon, type TestDaemon, waitFor } from "../_support/daemon.ts";
import { runAs, TestAccounts } from "../_support/users.ts";

const isRoot = process.getuid?.() === 0;
const accounts = new TestAccounts();
let d: TestDaemon | null = null;

beforeAll(async () => {
  if (!isRoot) return;
  d = await startDaemon(accounts.group());
});

afterAll(async () => {
  await d?.stop();
  accounts.cleanup();
});

function ctl(args: string[]) {
  ensureBuilt();
  const r = Bun.spawnSync([FIREZONECTL, ...args], {
    env: { PATH: "/usr/bin:/bin", FIREZONE_SOCKET: d!.socketPath },
    stdin: "ignore",
  });
  return { code: r.exitCode ?? -1, out: r.stdout.toString(), err: r.stderr.toString() };
}

describe("firezonectl logs", () => {
  test.skipIf(!isRoot)(
    "prints the daemon's lines with their times; --json gives JSON lines with schemaVersion",
    () => {
      const r = ctl(["logs"]);
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/^\d{4}-\d{2}-\d{2}T[\d:.]+Z INFO firezoned: listening /m);
      const j = ctl(["logs", "--json"]);
      const first = JSON.parse(j.out.split("\n")[0]!);
      expect(first).toMatchObject({ schemaVersion: 1, seq: 1 });
      expect(first.text).toContain("listening");
    },
  );

  test.skipIf(!isRoot)(
    "a member of the group reads it over IPC while the log file stays root's alone",
    async () => {
      const user = accounts.user(undefined, [d!.env.FIREZONE_GROUP!]);
      const r = await runAs(user, [FIREZONECTL, "logs"], { FIREZONE_SOCKET: d!.socketPath });
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("listening");
      const direct = await runAs(user, ["cat", join(d!.dir, "log", "firezoned.log")]);
      expect(direct.code).not.toBe(0);
      expect(direct.stderr).toContain("Permission denied");
    },
  );

  test.skipIf(!isRoot)("--follow prints a line the daemon writes after it started", async () => {
    ensureBuilt();
    const follow = Bun.spawn([FIREZONECTL, "logs", "--follow"], {
      env: { PATH: "/usr/bin:/bin", FIREZONE_SOCKET: d!.socketPath },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    let out = "";
    void (async () => {
      for await (const chunk of follow.stdout) out += new TextDecoder().decode(chunk);
    })();
    try {
      await waitFor(() => out.includes("listening"), 10_000, "the existing lines");
      expect(out).not.toContain("Internet Resource switched");
      // A change the daemon logs: the Internet Resource switch.
      expect(ctl(["internet-resource", "on"]).code).toBe(0);
      await waitFor(() => out.includes("Internet Resource switched"), 10_000, "the new line");
    } finally {
      follow.kill();
      await follow.exited;
    }
  });

  test.skipIf(!isRoot)("--since in the future shows nothing; a bad --since is a usage error (64)", () => {
    expect(ctl(["logs", "--since", "2999-01-01T00:00:00Z"]).out).toBe("");
    const bad = ctl(["logs", "--since", "yesterday"]);
    expect(bad.code).toBe(64);
    expect(bad.err).toContain("is not a duration");
  });
});

describe("the daemon's log ring", () => {
  test("pages stay under the page budget (far below the frame cap) and read on without a gap", () => {
    const ring = new LogRing({ maxLines: 100_000, maxBytes: 64 * 1024 * 1024 });
    // Lines full of characters JSON escapes six-fold, the worst case for a page's size on the wire.
    for (let i = 0; i < 3000; i++) ring.push(`INFO x: ${i} ${"\u0001".repeat(2000)}`);
    let after = 0;
    let seen = 0;
    for (;;) {
      const page = ring.read({ after, limit: 2000, maxBytes: LOG_PAGE_BYTES });
      const frame = Buffer.byteLength(JSON.stringify(page));
      expect(frame).toBeLessThan(MAX_FRAME_BYTES);
      expect(frame).toBeLessThanOrEqual(LOG_PAGE_BYTES + 4096);
      expect(page.gap).toBe(false);
      for (const l of page.lines) expect(l.seq).toBe(++seen);
      after = page.last;
      if (!page.more) break;
    }
    expect(seen).toBe(3000);
  });

  test("the oldest lines go first when the ring is full, and a reader that fell behind is told", () => {
    const ring = new LogRing({ maxLines: 10 });
    for (let i = 1; i <= 25; i++) ring.push(`INFO x: line ${i}`);
    expect(ring.size).toBe(10);
    const page = ring.read({ after: 3, limit: 100, maxBytes: LOG_PAGE_BYTES });
    expect(page.gap).toBe(true);
    expect(page.lines[0]!.text).toBe("INFO x: line 16");
    expect(page.last).toBe(25);
  });

  test("seeded from the previous run's file tail, whole lines only", () => {
    const dir = mkdtempSync(join(tmpdir(), "fzring-"));
    try {
      const file = join(dir, "firezoned.log");
      const lines = Array.from(
        { length: 200 },
        (_, i) => `2026-01-01T00:00:${String(i % 60).padStart(2, "0")}.000Z INFO old: ${i}`,
      );
      writeFileSync(file, `${lines.join("\n")}\n`);
      const ring = new LogRing();
      const n = ring.seedFromFile(file, 1000);
      expect(n).toBeGreaterThan(0);
      const page = ring.read({ limit: 1000, maxBytes: LOG_PAGE_BYTES });
      expect(page.lines.at(-1)!.text).toBe("INFO old: 199");
      for (const l of page.lines) expect(l.text).toMatch(/^INFO old: \d+$/);
      expect(ring.seedFromFile(join(dir, "missing.log"))).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a follower waiting for a line wakes when one is written", async () => {
    const ring = new LogRing();
    ring.push("INFO x: first");
    const waiting = ring.waitFor(ring.last, 10_000).then(() => "woke");
    ring.push("INFO x: second");
    expect(await waiting).toBe("woke");
  });

  test("--since takes durations and ISO times", () => {
    const now = Date.parse("2026-01-01T12:00:00Z");
    expect(parseSince("10m", now)).toBe(now - 600_000);
    expect(parseSince("2h", now)).toBe(now - 7_200_000);
    expect(parseSince("2026-01-01T11:00:00Z", now)).toBe(now - 3_600_000);
    expect(() => parseSince("10 minutes", now)).toThrow("is not a duration");
  });
});
