// firezoned's start and stop: configuration errors, single instance, stale sockets, signals, sd_notify.
import { afterAll, describe, expect, test } from "bun:test";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureBuilt, FIREZONECTL, FIREZONED } from "../_support/build.ts";
import { startDaemon } from "../_support/daemon.ts";
import { runAs, TestAccounts } from "../_support/users.ts";

const accounts = new TestAccounts();
const group = accounts.group();
const tmp = mkdtempSync(join(tmpdir(), "fzl-"));
chmodSync(tmp, 0o755);

afterAll(() => {
  accounts.cleanup();
  rmSync(tmp, { recursive: true, force: true });
});

function envFor(name: string, extra: Record<string, string> = {}): Record<string, string> {
  const dir = join(tmp, name);
  return {
    PATH: "/usr/bin:/bin",
    FIREZONE_SOCKET: join(dir, "run", "ipc.sock"),
    FIREZONE_GROUP: group,
    FIREZONE_STATE_DIR: join(dir, "state"),
    FIREZONE_LOG_DIR: join(dir, "log"),
    FIREZONE_TOKEN_FILE: join(dir, "token"),
    FIREZONE_TUN_NAME: `tfz${name.slice(0, 8)}`,
    FIREZONE_DNS_CONTROL: "off",
    ...extra,
  };
}

function runDaemonOnce(env: Record<string, string>): { code: number; stderr: string } {
  ensureBuilt();
  const r = Bun.spawnSync([FIREZONED], { env, stderr: "pipe", stdout: "pipe", timeout: 10_000 });
  return { code: r.exitCode ?? -1, stderr: r.stderr.toString() };
}

describe("firezoned lifecycle", () => {
  test("a missing group is a clear startup error that names the fix (exit 78)", () => {
    const r = runDaemonOnce(envFor("nogroup", { FIREZONE_GROUP: "no-such-group-fz" }));
    expect(r.code).toBe(78);
    expect(r.stderr).toContain("group 'no-such-group-fz' does not exist");
    expect(r.stderr).toContain("sudo groupadd --system no-such-group-fz");
  });

  test("a second daemon refuses to start while the first answers, naming its pid", async () => {
    const first = await startDaemon(group);
    try {
      const r = runDaemonOnce({ ...first.env });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`already running (pid ${first.proc.pid})`);
      expect(existsSync(first.socketPath)).toBe(true);
    } finally {
      await first.stop();
    }
  });

  test("a stale socket left by a crash is replaced", async () => {
    const env = envFor("stale");
    mkdirSync(join(tmp, "stale", "run"), { recursive: true });
    // A bound socket whose owner is gone: connect() gets ECONNREFUSED.
    Bun.spawnSync([
      "python3",
      "-c",
      `import socket; socket.socket(socket.AF_UNIX).bind(${JSON.stringify(env.FIREZONE_SOCKET)})`,
    ]);
    expect(existsSync(env.FIREZONE_SOCKET!)).toBe(true);
    const d = Bun.spawn([FIREZONED], { env, stderr: "pipe" });
    try {
      let ok = false;
      for (let i = 0; i < 100 && !ok; i++) {
        await Bun.sleep(50);
        ok = Bun.spawnSync([FIREZONECTL, "status"], { env }).exitCode === 0;
      }
      expect(ok).toBe(true);
    } finally {
      d.kill("SIGTERM");
      await d.exited;
    }
    expect(await new Response(d.stderr).text()).toContain("removed a stale socket");
  });

  test("SIGTERM and SIGINT shut down cleanly (exit 0) and remove the socket", async () => {
    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      const d = await startDaemon(group);
      d.proc.kill(signal);
      expect(await d.proc.exited).toBe(0);
      expect(existsSync(d.socketPath)).toBe(false);
      await d.stop();
    }
  });

  test("it logs to firezoned.log (0600) in the log directory as well as to stderr", async () => {
    const d = await startDaemon(group);
    const logFile = join(d.dir, "log", "firezoned.log");
    try {
      expect(readFileSync(logFile, "utf8")).toMatch(/^\d{4}-\d\d-\d\dT.* INFO firezoned: listening /m);
      expect(statSync(logFile).mode & 0o777).toBe(0o600);
    } finally {
      await d.proc.kill("SIGTERM");
      await d.proc.exited;
      expect(readFileSync(logFile, "utf8")).toContain("shutting down");
      await d.stop();
    }
  });

  test("under systemd it sends READY=1 to $NOTIFY_SOCKET", async () => {
    const notify = join(tmp, "notify.sock");
    const listener = Bun.spawn(
      [
        "python3",
        "-c",
        `import socket,sys; s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(${JSON.stringify(notify)}); print("bound", flush=True); print(s.recv(4096).decode(), flush=True)`,
      ],
      { stdout: "pipe" },
    );
    const reader = listener.stdout.getReader();
    await reader.read();
    const d = await startDaemon(group, { NOTIFY_SOCKET: notify });
    try {
      let text = "";
      while (!text.includes("READY=1")) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      expect(text).toContain("READY=1");
      expect(text).toContain(`MAINPID=${d.proc.pid}`);
    } finally {
      listener.kill();
      await d.stop();
    }
  });

  test("a token file other users could read is refused, and firezoned still serves status saying why", async () => {
    // Under /run (root-only), so the refusal is about the file's own mode and not about /tmp.
    const safe = mkdtempSync("/run/fzl-");
    const tokenFile = join(safe, "token");
    writeFileSync(tokenFile, "secret-token\n", { mode: 0o644 });
    chmodSync(tokenFile, 0o644);
    const member = accounts.user(undefined, [group]);
    const d = await startDaemon(group, { FIREZONE_TOKEN_FILE: tokenFile });
    try {
      const st = await runAs(member, [FIREZONECTL, "status", "--json"], { FIREZONE_SOCKET: d.socketPath });
      expect(st.code).toBe(0);
      const status = JSON.parse(st.stdout);
      // Service mode, so a member cannot sign in over the administrator's broken setup.
      expect(status.mode).toBe("service");
      expect(status.state).toBe("signed_out");
      expect(status.lastError).toContain("mode 644");
      expect(status.lastError).toContain(`sudo chmod 600 ${tokenFile}`);
      const text = await runAs(member, [FIREZONECTL, "status"], { FIREZONE_SOCKET: d.socketPath });
      expect(text.stdout).toContain(`sudo chmod 600 ${tokenFile}`);
      const signIn = await runAs(
        member,
        ["sh", "-c", `echo other-token | ${FIREZONECTL} sign-in --token-stdin`],
        { FIREZONE_SOCKET: d.socketPath },
      );
      expect(signIn.code).toBe(77);
      expect(d.stderr()).toContain("refusing the service token");
      expect(d.stderr()).not.toContain("secret-token");
      expect(st.stdout + text.stdout).not.toContain("secret-token");
    } finally {
      await d.stop();
      rmSync(safe, { recursive: true, force: true });
    }
  });

  test("firezoned refuses to run as an ordinary user, saying it needs root (exit 77)", async () => {
    const user = accounts.user(undefined, [group]);
    const r = await runAs(user, [FIREZONED], envFor("nonroot"));
    expect(r.code).toBe(77);
    expect(r.stderr).toContain("must run as root");
  });

  test("--help and --version answer without root and without a socket", () => {
    ensureBuilt();
    expect(Bun.spawnSync([FIREZONED, "--version"]).stdout.toString()).toMatch(/^firezoned \d+\.\d+\.\d+/);
    expect(Bun.spawnSync([FIREZONED, "--help"]).stdout.toString()).toContain("FIREZONE_SOCKET");
    expect(Bun.spawnSync([FIREZONED, "--bogus"]).exitCode).toBe(64);
  });
});

describe("service mode", () => {
  test("with a service token, a member's sign-out is refused with service_mode (exit 77), even if the token is bad", async () => {
    const member = accounts.user(undefined, [group]);
    const d = await startDaemon(group, { FIREZONE_TOKEN: "not-a-valid-token" });
    try {
      const st = Bun.spawnSync([FIREZONECTL, "status", "--json"], { env: d.env });
      expect(JSON.parse(st.stdout.toString()).mode).toBe("service");
      const r = await runAs(member, [FIREZONECTL, "sign-out"], { FIREZONE_SOCKET: d.socketPath });
      expect(r.code).toBe(77);
      expect(r.stderr).toContain("service mode");
      const signIn = await runAs(
        member,
        ["sh", "-c", `echo other-token | ${FIREZONECTL} sign-in --token-stdin`],
        {
          FIREZONE_SOCKET: d.socketPath,
        },
      );
      expect(signIn.code).toBe(77);
      expect(d.stderr()).not.toContain("not-a-valid-token");
    } finally {
      await d.stop();
    }
  });
});
