// The pidfd behind the audit's exe: the pidfd_open fallback (kernels before SO_PEERPIDFD) names the
// process, and a pidfd tells a live process from one that exited, so a reused pid is never trusted.
import { describe, expect, test } from "bun:test";
import { closeSync } from "node:fs";
import { peerExecutable, peerPidfd, pidfdAlive } from "../../lib/sys/index.ts";

describe("pidfds", () => {
  test("without a socket to ask, the pid's pidfd is opened, and it sees the process exit", async () => {
    const child = Bun.spawn(["sleep", "30"]);
    // fd -1 makes SO_PEERPIDFD fail, as on a kernel before 6.5, so pidfd_open(pid) is used.
    const pidfd = peerPidfd(-1, child.pid);
    expect(pidfd).not.toBeNull();
    try {
      expect(pidfdAlive(pidfd!)).toBe(true);
      child.kill("SIGKILL");
      await child.exited;
      expect(pidfdAlive(pidfd!)).toBe(false);
    } finally {
      closeSync(pidfd!);
    }
  });

  test("the exe of a process that is gone is null, not whatever holds its pid now", async () => {
    const child = Bun.spawn(["true"]);
    const pid = child.pid;
    await child.exited;
    expect(peerExecutable(-1, pid, 0)).toBeNull();
  });

  test("the exe of a live process of the recorded uid is its executable", () => {
    expect(peerExecutable(-1, process.pid, process.getuid!())).toBe(process.execPath);
  });
});
