// Logs cannot fill the disk, and one noisy caller cannot flush out the others' history: the log
// files rotate by size with a fixed number of generations; identical audit lines are coalesced into
// one "repeated" line per window; each non-root uid has a budget of new lines per window.
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createAuditSink } from "../../lib/daemon/audit.ts";
import { LogFile } from "../../lib/daemon/log_file.ts";
import type { PeerInfo } from "../../lib/ipc/index.ts";
import { type Clock, Coalescer, silentLogger } from "../../lib/util/index.ts";
import { FIREZONECTL } from "../_support/build.ts";
import { startDaemon } from "../_support/daemon.ts";
import { stageBun, stageScript } from "../_support/stage.ts";
import { runAs, TestAccounts } from "../_support/users.ts";

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "fz-logs-"));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A clock whose timers run only when the test says time has passed. */
function manualClock(): Clock & { advance(ms: number): void } {
  let now = 0;
  let timers: { at: number; fn: () => void }[] = [];
  return {
    now: () => now,
    setTimeout: (fn, ms) => {
      const t = { at: now + ms, fn };
      timers.push(t);
      return t;
    },
    clearTimeout: (h) => {
      timers = timers.filter((t) => t !== h);
    },
    advance(ms) {
      now += ms;
      const due = timers.filter((t) => t.at <= now);
      timers = timers.filter((t) => t.at > now);
      for (const t of due) t.fn();
    },
  };
}

function peer(uid: number, exe = "/usr/bin/firezonectl", pid = 4242): PeerInfo {
  return { uid, gid: uid, pid, user: uid === 0 ? "root" : `user${uid}`, exe, tier: "member" };
}

describe("log files", () => {
  test("rotate by size and keep a fixed number of generations, so they never exceed (keep + 1) x size", () => {
    const dir = tempDir();
    const path = join(dir, "firezoned.log");
    const log = new LogFile(path, 1000, 2);
    expect(log.open()).toBe(true);
    for (let i = 0; i < 500; i++) log.write(`2026-01-01T00:00:00.000Z line ${String(i).padStart(4, "0")}`);
    log.close();
    expect(readdirSync(dir).sort()).toEqual(["firezoned.log", "firezoned.log.1", "firezoned.log.2"]);
    let total = 0;
    for (const f of readdirSync(dir)) {
      const size = statSync(join(dir, f)).size;
      expect(size).toBeLessThanOrEqual(1000);
      expect(statSync(join(dir, f)).mode & 0o777).toBe(0o600);
      total += size;
    }
    expect(total).toBeLessThanOrEqual(3000);
    expect(readFileSync(path, "utf8")).toContain("line 0499");
    // The generations are in order: .1 holds what came just before the current file.
    const last1 = readFileSync(`${path}.1`, "utf8").trim().split("\n").at(-1)!;
    const first0 = readFileSync(path, "utf8").split("\n")[0]!;
    expect(Number(last1.slice(-4)) + 1).toBe(Number(first0.slice(-4)));
  });

  test("a line longer than the limit is cut, not allowed to grow a file past its size", () => {
    const dir = tempDir();
    const log = new LogFile(join(dir, "a.log"), 64 * 1024, 1);
    log.open();
    log.write(`2026-01-01T00:00:00.000Z ${"x".repeat(100_000)}`);
    log.close();
    expect(statSync(join(dir, "a.log")).size).toBeLessThanOrEqual(16 * 1024 + 1);
  });
});

describe("coalescing", () => {
  test("repeats within the window become one line with a count", () => {
    const clock = manualClock();
    const out: string[] = [];
    const c = new Coalescer<string>({
      windowMs: 10_000,
      perSourceBudget: 5,
      clock,
      emit: (e) => out.push(e),
      repeated: (e, n, ms) => out.push(`${e} repeated ${n} times in ${ms / 1000} s`),
      suppressed: (s, n) => out.push(`${s} suppressed ${n}`),
    });
    for (let i = 0; i < 5124; i++) c.note("1000", "same", "refused sign_out");
    expect(out).toEqual(["refused sign_out"]);
    clock.advance(10_000);
    expect(out).toEqual(["refused sign_out", "refused sign_out repeated 5123 times in 10 s"]);
    c.note("1000", "same", "refused sign_out");
    expect(out).toHaveLength(3);
  });
});

describe("the audit log", () => {
  test("5,000 identical refusals from one member are two lines, and other callers' lines are all kept", () => {
    const dir = tempDir();
    const file = join(dir, "audit.log");
    const audit = createAuditSink(silentLogger, file);
    audit(peer(1001), "sign_in", "ok");
    for (let i = 0; i < 5000; i++)
      audit(peer(1000, "/usr/bin/firezonectl", 5000 + i), "sign_out", "service_mode");
    audit(peer(0), "sign_out", "ok");
    audit.close();
    const lines = readFileSync(file, "utf8").trim().split("\n");
    expect(lines).toHaveLength(4);
    expect(lines[0]).toContain('uid=1001 user="user1001"');
    expect(lines[1]).toContain('uid=1000 user="user1000" pid=5000');
    expect(lines[2]).toContain('uid=0 user="root"');
    expect(lines[3]).toContain('result="service_mode" repeated=4999 in_seconds=60');
    expect(lines[3]).toContain("pid=9999");
  });

  test("a member varying its executable to dodge coalescing hits its budget; others are unaffected", () => {
    const dir = tempDir();
    const file = join(dir, "audit.log");
    const audit = createAuditSink(silentLogger, file, { budget: 10 });
    for (let i = 0; i < 2000; i++) audit(peer(1000, `/tmp/x/${i}/firezonectl`), "sign_out", "service_mode");
    audit(peer(1001), "sign_out", "ok");
    audit(peer(0), "sign_in", "ok");
    audit.close();
    const lines = readFileSync(file, "utf8").trim().split("\n");
    expect(lines.filter((l) => l.includes("uid=1000 ") && l.includes("method="))).toHaveLength(10);
    expect(lines.some((l) => l.includes("uid=1001 "))).toBe(true);
    expect(lines.some((l) => l.includes("uid=0 "))).toBe(true);
    expect(lines.at(-1)).toContain("uid=1000 suppressed=1990 in_seconds=60");
  });

  test("an executable path of 10,000 characters is cut so a line stays short", () => {
    const dir = tempDir();
    const file = join(dir, "audit.log");
    const audit = createAuditSink(silentLogger, file);
    audit(peer(1000, `/${"a".repeat(10_000)}`), "sign_out", "ok");
    audit.close();
    expect(readFileSync(file, "utf8").length).toBeLessThan(600);
    expect(existsSync(`${file}.1`)).toBe(false);
  });
});

describe("a running firezoned in service mode, with a member refused over and over", () => {
  const accounts = new TestAccounts();
  afterAll(() => accounts.cleanup());

  test("the audit log gains a few lines, not one per refusal, and keeps what came before", async () => {
    const group = accounts.group();
    const member = accounts.user(undefined, [group]);
    const daemon = await startDaemon(group, { FIREZONE_TOKEN: "fz-test-service-token" });
    const env = { FIREZONE_SOCKET: daemon.socketPath };
    let audit = "";
    try {
      expect(Bun.spawnSync([FIREZONECTL, "sign-out"], { env }).exitCode).toBe(0);
      const r = await runAs(
        member,
        [
          stageBun(),
          stageScript(join(import.meta.dir, "../ipc/fixtures/repeat_call.ts")),
          "sign_out",
          "3000",
        ],
        env,
      );
      expect(JSON.parse(r.stdout)).toEqual({ service_mode: 3000 });
      // The repeats are counted until the window closes; stopping the daemon writes them out.
    } finally {
      expect(await daemon.stop({ keepDir: true })).toBe(0);
      audit = readFileSync(join(daemon.dir, "log", "audit.log"), "utf8");
      rmSync(daemon.dir, { recursive: true, force: true });
    }
    const lines = audit.trim().split("\n");
    expect(lines[0]).toContain('uid=0 user="root"');
    expect(lines[0]).toContain('method="sign_out" result="ok"');
    expect(lines).toHaveLength(3);
    expect(lines[1]).toContain(`user="${member}"`);
    expect(lines[2]).toContain('result="service_mode" repeated=2999 in_seconds=60');
  });
});
