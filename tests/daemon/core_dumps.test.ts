// No secrets in core dumps: firezoned turns PR_SET_DUMPABLE off before it reads any token. The kernel
// shows dumpability in who owns /proc/<pid>: a dumpable process's entries belong to its own euid and
// egid, a non-dumpable one's to root:root. Like the systemd unit (Group=firezone), the daemon runs
// here with the group as its gid, so "0:0" there can only mean "not dumpable"; a `sleep` started the
// same way is the control.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureBuilt, FIREZONED } from "../_support/build.ts";
import { waitFor } from "../_support/daemon.ts";
import { TestAccounts } from "../_support/users.ts";

const isRoot = process.getuid?.() === 0;
const hasSetpriv = Bun.which("setpriv") !== null;
const accounts = new TestAccounts();

afterAll(() => accounts.cleanup());

function owner(pid: number, entry: string): string {
  const st = statSync(`/proc/${pid}/${entry}`);
  return `${st.uid}:${st.gid}`;
}

describe.skipIf(!isRoot || !hasSetpriv)("firezoned is not dumpable", () => {
  test("/proc/<pid> of firezoned run with gid firezone belongs to root:root; a dumpable control's to root:<gid>", async () => {
    ensureBuilt();
    const group = accounts.group();
    const gid = Number(Bun.spawnSync(["getent", "group", group]).stdout.toString().split(":")[2]);
    const dir = mkdtempSync(join(tmpdir(), "fzcore-"));
    const asGroup = ["setpriv", `--regid=${gid}`, "--keep-groups", "--"];
    const control = Bun.spawn([...asGroup, "sleep", "30"]);
    const socketPath = join(dir, "run", "ipc.sock");
    const daemon = Bun.spawn([...asGroup, FIREZONED], {
      env: {
        PATH: "/usr/bin:/bin",
        FIREZONE_SOCKET: socketPath,
        FIREZONE_GROUP: group,
        FIREZONE_STATE_DIR: join(dir, "state"),
        FIREZONE_LOG_DIR: join(dir, "log"),
        FIREZONE_TOKEN_FILE: join(dir, "token"),
        FIREZONE_TUN_NAME: `tfz${Math.random().toString(36).slice(2, 9)}`,
      },
      stdout: "ignore",
      stderr: "pipe",
    });
    try {
      await waitFor(() => existsSync(socketPath) || daemon.exitCode !== null, 10_000, "firezoned to listen");
      expect(daemon.exitCode).toBeNull();
      await waitFor(() => owner(control.pid, "status") === `0:${gid}`, 5000, "the control's /proc entry");
      expect(owner(control.pid, "environ")).toBe(`0:${gid}`);
      // Its effective gid is the group, so a dumpable firezoned would show 0:<gid> like the control.
      expect(/^Gid:\s+\d+\s+(\d+)/m.exec(readFileSync(`/proc/${daemon.pid}/status`, "utf8"))?.[1]).toBe(
        String(gid),
      );
      expect(owner(daemon.pid, "status")).toBe("0:0");
      expect(owner(daemon.pid, "environ")).toBe("0:0");
      expect(owner(daemon.pid, "mem")).toBe("0:0");
    } finally {
      control.kill();
      daemon.kill("SIGTERM");
      await daemon.exited;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

test.skipIf(isRoot && hasSetpriv)("the core-dump test needs root and setpriv (skipped)", () => {});
