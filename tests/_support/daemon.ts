// Starts the compiled firezoned on a private socket for one test file.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { ensureBuilt, FIREZONED } from "./build.ts";

export interface TestDaemon {
  dir: string;
  socketPath: string;
  proc: Subprocess<"ignore", "pipe", "pipe">;
  env: Record<string, string>;
  stderr(): string;
  /** Stops firezoned and removes its directory, unless `keepDir` (to read its logs afterwards). */
  stop(opts?: { keepDir?: boolean }): Promise<number>;
}

export async function waitFor(cond: () => boolean, timeoutMs = 5000, what = "condition"): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(20);
  }
}

/** `group` must exist; extra env is passed through (FIREZONE_TOKEN, ...); `wrap` prefixes the command. */
export async function startDaemon(
  group: string,
  extraEnv: Record<string, string> = {},
  opts: { wrap?: string[] } = {},
): Promise<TestDaemon> {
  ensureBuilt();
  const dir = mkdtempSync(join(tmpdir(), "fzd-"));
  Bun.spawnSync(["chmod", "755", dir]);
  // A test may give the socket of an earlier daemon (a restart on the same path).
  const socketPath = extraEnv.FIREZONE_SOCKET ?? join(dir, "run", "ipc.sock");
  const env = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    FIREZONE_SOCKET: socketPath,
    FIREZONE_GROUP: group,
    FIREZONE_STATE_DIR: join(dir, "state"),
    FIREZONE_LOG_DIR: join(dir, "log"),
    FIREZONE_TOKEN_FILE: join(dir, "token"),
    // Hermetic: never the host's /etc/firezoned/firezoned.conf. The portal is a loopback port nothing
    // listens on, plaintext by explicit opt-in; a test that wants no portal passes FIREZONE_API_URL "".
    FIREZONE_CONFIG: join(dir, "firezoned.conf"),
    FIREZONE_API_URL: "ws://127.0.0.1:9",
    // Never the host's resolver configuration.
    FIREZONE_DNS_CONTROL: "off",
    FIREZONE_ALLOW_INSECURE_PORTAL: "1",
    // A name of its own, so a test daemon's start-up cleanup never touches another tunnel.
    FIREZONE_TUN_NAME: `tfz${Math.random().toString(36).slice(2, 9)}`,
    ...extraEnv,
  };
  // `wrap` runs firezoned under another program (unshare, ...), which must exec it in the end.
  const proc = Bun.spawn([...(opts.wrap ?? []), FIREZONED], {
    env,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  let err = "";
  const reader = (async () => {
    for await (const chunk of proc.stderr) err += new TextDecoder().decode(chunk);
  })();
  await waitFor(() => existsSync(socketPath) || proc.exitCode !== null, 10_000, "firezoned to listen").catch(
    (err: Error) => {
      // A daemon that never listened must not outlive the test that started it.
      proc.kill("SIGKILL");
      throw err;
    },
  );
  await Bun.sleep(50);
  if (proc.exitCode !== null) throw new Error(`firezoned exited ${proc.exitCode}: ${err}`);
  return {
    dir,
    socketPath,
    proc,
    env,
    stderr: () => err,
    stop: async (opts) => {
      proc.kill("SIGTERM");
      const code = await proc.exited;
      await reader;
      if (!opts?.keepDir) rmSync(dir, { recursive: true, force: true });
      return code;
    },
  };
}
