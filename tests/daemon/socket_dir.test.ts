// The socket path is safe to create: firezoned refuses a socket directory other users can write
// (naming the fix), never follows a symlink there, and sets the socket's owner and mode through a
// descriptor, so a member swapping in a symlink to a root-only file cannot get that file chowned.
// Real users (useradd), the compiled firezoned, the attack run as the member.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { secureSocket } from "../../lib/daemon/socket_dir.ts";
import { ensureBuilt, FIREZONED } from "../_support/build.ts";
import { stageBun, stageScript } from "../_support/stage.ts";
import { runAs, TestAccounts } from "../_support/users.ts";

const accounts = new TestAccounts();
let group: string;
let gid: number;
let member: string;
let base: string;

beforeAll(() => {
  ensureBuilt();
  group = accounts.group();
  gid = Number(Bun.spawnSync(["getent", "group", group]).stdout.toString().split(":")[2]);
  member = accounts.user(undefined, [group]);
  base = mkdtempSync(join(tmpdir(), "fz-sockdir-"));
  chmodSync(base, 0o755);
});

afterAll(() => {
  accounts.cleanup();
  rmSync(base, { recursive: true, force: true });
});

/** Starts firezoned on `socketPath`; resolves with its exit code, or null if it was still running after `ms` (then stopped). */
async function runDaemon(socketPath: string, ms = 1500): Promise<{ code: number | null; err: string }> {
  const dir = mkdtempSync(join(base, "d-"));
  const proc = Bun.spawn([FIREZONED], {
    env: {
      PATH: "/usr/bin:/bin",
      FIREZONE_SOCKET: socketPath,
      FIREZONE_GROUP: group,
      FIREZONE_STATE_DIR: join(dir, "state"),
      FIREZONE_LOG_DIR: join(dir, "log"),
      FIREZONE_TOKEN_FILE: join(dir, "token"),
      FIREZONE_TUN_NAME: `tfz${Math.random().toString(36).slice(2, 9)}`,
      FIREZONE_DNS_CONTROL: "off",
    },
    stdin: "ignore",
    stdout: "ignore",
    stderr: "pipe",
  });
  const exited = await Promise.race([proc.exited, Bun.sleep(ms).then(() => null)]);
  if (exited === null) {
    proc.kill("SIGKILL");
    await proc.exited;
  }
  return { code: exited, err: await new Response(proc.stderr).text() };
}

describe("the socket directory", () => {
  test("a member racing to swap the socket for a symlink to a root 0600 file never gets it chowned", async () => {
    const secretDir = mkdtempSync(join(base, "secret-"));
    const secret = join(secretDir, "shadow");
    writeFileSync(secret, "root only\n", { mode: 0o600 });
    // The mistake the daemon must catch: a socket directory the group may write.
    const sockDir = join(base, "shared");
    mkdirSync(sockDir);
    chownSync(sockDir, 0, gid);
    chmodSync(sockDir, 0o770);
    const socketPath = join(sockDir, "ipc.sock");
    const stop = join(base, "stop-attack");
    const attack = runAs(member, [
      stageBun(),
      stageScript(join(import.meta.dir, "fixtures/swap_symlink.ts")),
      socketPath,
      secret,
      stop,
    ]);
    await Bun.sleep(300);
    const results: { code: number | null; err: string }[] = [];
    for (let i = 0; i < 25; i++) results.push(await runDaemon(socketPath, 2000));
    writeFileSync(stop, "");
    // Against path-based chown the same attack won within 25 starts (the file became 0660 root:<group>).
    await attack;
    const st = statSync(secret);
    expect([st.mode & 0o7777, st.uid, st.gid]).toEqual([0o600, 0, 0]);
    for (const r of results) {
      expect(r.code).toBe(78);
      expect(r.err).toContain(`refusing to create the socket in ${sockDir}`);
      expect(r.err).toContain(`sudo chown root:${group} ${sockDir} && sudo chmod 0750 ${sockDir}`);
    }
  });

  test("a socket directory that is a symlink is refused, not followed", async () => {
    const real = mkdtempSync(join(base, "real-"));
    const link = join(base, "linked");
    symlinkSync(real, link);
    const r = await runDaemon(join(link, "ipc.sock"));
    expect(r.code).toBe(78);
    expect(r.err).toContain("symbolic link");
    expect(statSync(real).mode & 0o7777).toBe(0o700);
  });

  test("a directory above the socket's that other users can write is refused", async () => {
    const open = join(base, "open");
    mkdirSync(open);
    chmodSync(open, 0o777);
    const r = await runDaemon(join(open, "run", "ipc.sock"));
    expect(r.code).toBe(78);
    expect(r.err).toContain(`${open} is writable by users other than root`);
  });

  test("in a safe place the daemon makes the directory 0750 and the socket 0660, root:<group>", async () => {
    const parent = mkdtempSync(join(base, "ok-"));
    chmodSync(parent, 0o755);
    const socketPath = join(parent, "run", "ipc.sock");
    const dir = join(parent, "run");
    const proc = Bun.spawn([FIREZONED], {
      env: {
        PATH: "/usr/bin:/bin",
        FIREZONE_SOCKET: socketPath,
        FIREZONE_GROUP: group,
        FIREZONE_STATE_DIR: join(parent, "state"),
        FIREZONE_LOG_DIR: join(parent, "log"),
        FIREZONE_TOKEN_FILE: join(parent, "token"),
        FIREZONE_TUN_NAME: `tfz${Math.random().toString(36).slice(2, 9)}`,
        FIREZONE_DNS_CONTROL: "off",
      },
      stdin: "ignore",
      stdout: "ignore",
      stderr: "ignore",
    });
    try {
      const until = Date.now() + 10_000;
      while (Date.now() < until) {
        try {
          if (statSync(socketPath).isSocket() && (statSync(socketPath).mode & 0o777) === 0o660) break;
        } catch {}
        await Bun.sleep(50);
      }
      const d = statSync(dir);
      const s = statSync(socketPath);
      expect([d.mode & 0o7777, d.uid, d.gid]).toEqual([0o750, 0, gid]);
      expect([s.mode & 0o7777, s.uid, s.gid]).toEqual([0o660, 0, gid]);
    } finally {
      proc.kill("SIGTERM");
      await proc.exited;
    }
  });

  test("setting the socket's owner and mode refuses a symlink in its place instead of following it", () => {
    const dir = mkdtempSync(join(base, "swap-"));
    const target = join(dir, "root-file");
    writeFileSync(target, "x", { mode: 0o600 });
    symlinkSync(target, join(dir, "ipc.sock"));
    expect(() => secureSocket(join(dir, "ipc.sock"), gid)).toThrow(
      "is not the socket firezoned just created",
    );
    const st = statSync(target);
    expect([st.mode & 0o7777, st.gid]).toEqual([0o600, 0]);
  });
});
