// What firezonectl tells a person when things are not as they should be.
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { PROTOCOL_VERSION } from "../../lib/ipc/index.ts";
import { ensureBuilt, FIREZONECTL } from "../_support/build.ts";
import { stageBun, stageScript } from "../_support/stage.ts";
import { TestAccounts } from "../_support/users.ts";

const accounts = new TestAccounts();
const tmp = mkdtempSync(join(tmpdir(), "fzc-"));
chmodSync(tmp, 0o777);
const FAKE = join(import.meta.dir, "fixtures/fake_daemon.ts");

afterAll(() => {
  accounts.cleanup();
  rmSync(tmp, { recursive: true, force: true });
});

function ctl(args: string[], env: Record<string, string> = {}): { code: number; out: string; err: string } {
  ensureBuilt();
  const r = Bun.spawnSync([FIREZONECTL, ...args], {
    env: { PATH: "/usr/bin:/bin", ...env },
    stdin: "ignore",
  });
  return { code: r.exitCode ?? -1, out: r.stdout.toString(), err: r.stderr.toString() };
}

async function fakeDaemon(socket: string, protocol: number, user?: string): Promise<Subprocess> {
  const cmd = [stageBun(), stageScript(FAKE), socket, String(protocol)];
  const proc = Bun.spawn(user ? ["runuser", "-u", user, "--", ...cmd] : cmd, {
    stdout: "pipe",
    stderr: "inherit",
  });
  await proc.stdout.getReader().read();
  return proc;
}

describe("firezonectl", () => {
  test("with no daemon running it exits 69 and says how to start it", () => {
    const r = ctl(["status"], { FIREZONE_SOCKET: join(tmp, "none.sock") });
    expect(r.code).toBe(69);
    expect(r.err).toContain("firezoned is not running");
    expect(r.err).toContain("sudo systemctl start firezoned");
  });

  test("--socket overrides FIREZONE_SOCKET", () => {
    const r = ctl(["--socket", join(tmp, "flag.sock"), "status"], { FIREZONE_SOCKET: join(tmp, "env.sock") });
    expect(r.err).toContain("flag.sock");
  });

  test("it refuses a daemon whose socket is held by an ordinary user", async () => {
    const user = accounts.user();
    const socket = join(tmp, "impostor.sock");
    const fake = await fakeDaemon(socket, 1, user);
    try {
      const r = ctl(["status"], { FIREZONE_SOCKET: socket });
      expect(r.code).toBe(69);
      expect(r.err).toContain("not root: it is not firezoned");
    } finally {
      fake.kill();
    }
  });

  test("a daemon speaking a newer protocol gets a clear upgrade message (exit 69)", async () => {
    const socket = join(tmp, "newer.sock");
    const fake = await fakeDaemon(socket, 99);
    try {
      const r = ctl(["status"], { FIREZONE_SOCKET: socket });
      expect(r.code).toBe(69);
      expect(r.err).toContain("the daemon is newer than this client");
      expect(r.err).toContain("restart the daemon");
    } finally {
      fake.kill();
    }
  });

  test("usage mistakes exit 64 and point at --help", () => {
    for (const args of [
      ["frobnicate"],
      ["status", "--jsn"],
      ["sign-in", "tok123"],
      ["sign-in"],
      ["--socket"],
    ]) {
      const r = ctl(args, { FIREZONE_SOCKET: join(tmp, "none.sock") });
      expect(r.code).toBe(64);
      expect(r.err).toContain("firezonectl --help");
    }
  });

  test("a token given on the command line is refused and never echoed into the message", () => {
    const r = ctl(["sign-in", "s3cr3t-token"]);
    expect(r.code).toBe(64);
    expect(r.err).toContain("tokens never go on the command line");
  });

  test("a .env or bunfig.toml in the current directory changes nothing (no socket redirect, no root check off)", () => {
    const dir = join(tmp, "dotenv");
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, ".env"),
      `FIREZONE_SOCKET=${join(tmp, "evil.sock")}\nFIREZONE_INSECURE_ALLOW_NONROOT_DAEMON=1\n`,
    );
    writeFileSync(join(dir, "bunfig.toml"), 'preload = ["./evil.ts"]\n');
    writeFileSync(join(dir, "evil.ts"), 'console.log("preloaded");\n');
    const r = Bun.spawnSync([FIREZONECTL, "status"], {
      cwd: dir,
      env: { PATH: "/usr/bin:/bin" },
      stdin: "ignore",
    });
    const err = r.stderr.toString();
    expect(err).toContain("/run/firezoned/ipc.sock");
    expect(err).not.toContain("evil.sock");
    expect(r.stdout.toString()).not.toContain("preloaded");
  });

  test("a command's --help has no colour escape codes when piped", () => {
    const r = ctl(["status", "--help"]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("--json");
    expect(r.out).not.toContain("\x1b[");
  });

  test("--help lists every command and the exit codes; version works without a daemon", () => {
    const help = ctl(["--help"]);
    expect(help.code).toBe(0);
    for (const word of [
      "status",
      "resources",
      "sign-in",
      "sign-out",
      "version",
      "watch",
      "wait",
      "settings",
      "completion",
    ]) {
      expect(help.out).toContain(word);
    }
    const v = ctl(["version", "--json"], { FIREZONE_SOCKET: join(tmp, "none.sock") });
    expect(v.code).toBe(69);
    expect(JSON.parse(v.out)).toMatchObject({
      client: { protocol: PROTOCOL_VERSION },
      daemon: null,
      error: { code: "daemon_unreachable" },
    });
  });
});
