// A slow group database must not stall the daemon. firezoned runs in a mount namespace of its own
// where, once it listens, /etc/group is a FIFO that nobody writes: every read of it (glibc's "files"
// NSS module, in any process of that namespace) blocks, as a directory server that stops answering
// would. Other requests and new connections must be served meanwhile.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { ensureBuilt, FIREZONECTL, FIREZONED } from "../_support/build.ts";
import { waitFor } from "../_support/daemon.ts";
import { runAs, TestAccounts } from "../_support/users.ts";

const accounts = new TestAccounts();
let dir: string;
let socketPath: string;
let daemon: Subprocess<"ignore", "pipe", "pipe">;
let group: string;
let member: string;

/** Runs a command in the daemon's mount namespace. */
function inDaemonNs(...cmd: string[]): void {
  const r = Bun.spawnSync(["nsenter", "--mount", `--target=${daemon.pid}`, ...cmd], { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")}: ${r.stderr.toString()}`);
}

beforeAll(async () => {
  ensureBuilt();
  group = accounts.group();
  member = accounts.user(undefined, [group]);
  dir = mkdtempSync(join(tmpdir(), "fzd-nss-"));
  Bun.spawnSync(["chmod", "755", dir]);
  socketPath = join(dir, "run", "ipc.sock");
  // An overlay on /etc whose upper layer holds only a FIFO named "group". An overlay rather than a
  // bind mount on the file: useradd and gpasswd elsewhere on the machine replace /etc/group by
  // rename, which would drop a mount on the old file.
  for (const d of ["upper", "work"]) Bun.spawnSync(["mkdir", join(dir, d)]);
  Bun.spawnSync(["mkfifo", "-m", "644", join(dir, "upper", "group")]);
  daemon = Bun.spawn(["unshare", "--mount", "--propagation", "private", FIREZONED], {
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      FIREZONE_SOCKET: socketPath,
      FIREZONE_GROUP: group,
      FIREZONE_STATE_DIR: join(dir, "state"),
      FIREZONE_LOG_DIR: join(dir, "log"),
      FIREZONE_TOKEN_FILE: join(dir, "token"),
      FIREZONE_TUN_NAME: `tfz${Math.random().toString(36).slice(2, 9)}`,
      FIREZONE_DNS_CONTROL: "off",
      // A portal nobody serves: the session is configured (signed_out), and nothing reads the host's file.
      FIREZONE_CONFIG: join(dir, "firezoned.conf"),
      FIREZONE_API_URL: "ws://127.0.0.1:9",
      FIREZONE_ALLOW_INSECURE_PORTAL: "1",
    },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  await waitFor(() => existsSync(socketPath) || daemon.exitCode !== null, 15_000, "firezoned to listen");
  if (daemon.exitCode !== null) throw new Error(`firezoned exited ${daemon.exitCode}`);
  // From here on every read of /etc/group in the daemon's namespace blocks: nobody writes the pipe.
  inDaemonNs(
    "mount",
    "-t",
    "overlay",
    "overlay",
    "-o",
    `lowerdir=/etc,upperdir=${join(dir, "upper")},workdir=${join(dir, "work")}`,
    "/etc",
  );
});

afterAll(async () => {
  daemon?.kill("SIGTERM");
  await daemon?.exited;
  accounts.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("a group database that does not answer", () => {
  test("status and new connections are served while a sign-out waits for the group database", async () => {
    const env = { FIREZONE_SOCKET: socketPath };
    // sign-out re-checks membership, which needs /etc/group: it waits (until the lookup times out).
    const signOut = runAs(member, [FIREZONECTL, "sign-out"], env);
    let signOutDone = false;
    void signOut.then(() => {
      signOutDone = true;
    });
    await Bun.sleep(300);
    for (let i = 0; i < 3; i++) {
      const status = await runAs(member, [FIREZONECTL, "status", "--json"], env);
      expect(status.stderr).toBe("");
      expect(status.code).toBe(0);
      expect(JSON.parse(status.stdout).state).toBe("signed_out");
    }
    const asRoot = await runAs("root", [FIREZONECTL, "status"], env);
    expect(asRoot.code).toBe(0);
    // All of that was answered while the group lookup was still hanging.
    expect(signOutDone).toBe(false);
    // The hung lookup is killed after its timeout; with no earlier answer the kernel's groups stand.
    const r = await signOut;
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });

  test("once the group database answers again, changes are checked against it", async () => {
    // Lazily: lookups still hanging in the pipe are killed by their timeout.
    inDaemonNs("umount", "--lazy", "/etc");
    const r = await runAs(member, [FIREZONECTL, "sign-out"], { FIREZONE_SOCKET: socketPath });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    Bun.spawnSync(["gpasswd", "-d", member, group], { stdout: "ignore" });
    // A fresh connection, so the lookup is fresh too once the cache entry of the sign-out ages out.
    await Bun.sleep(10_500);
    const refused = await runAs("root", [
      "setpriv",
      `--reuid=${member}`,
      `--regid=${member}`,
      `--groups=${group}`,
      "env",
      `FIREZONE_SOCKET=${socketPath}`,
      FIREZONECTL,
      "sign-out",
    ]);
    expect(refused.code).toBe(77);
    expect(refused.stderr).toContain("is no longer in group");
  });
});
