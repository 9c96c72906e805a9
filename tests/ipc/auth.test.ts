// Who may use firezoned, checked with real users made by useradd and the compiled programs.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { connectDaemon } from "../../lib/ipc/index.ts";
import { FIREZONECTL } from "../_support/build.ts";
import { startDaemon, type TestDaemon } from "../_support/daemon.ts";
import { stageBun, stageScript } from "../_support/stage.ts";
import { runAs, TestAccounts } from "../_support/users.ts";

const accounts = new TestAccounts();
let daemon: TestDaemon;
let group: string;
let member: string;
let outsider: string;

beforeAll(async () => {
  group = accounts.group();
  member = accounts.user(undefined, [group]);
  outsider = accounts.user();
  daemon = await startDaemon(group);
});

afterAll(async () => {
  await daemon?.stop();
  accounts.cleanup();
});

describe("authorization", () => {
  test("the runtime dir is 0750 and the socket 0660, both root:<group>", () => {
    const gid = Number(Bun.spawnSync(["getent", "group", group]).stdout.toString().split(":")[2]);
    const dir = statSync(dirname(daemon.socketPath));
    const sock = statSync(daemon.socketPath);
    expect([dir.mode & 0o7777, dir.uid, dir.gid]).toEqual([0o750, 0, gid]);
    expect([sock.mode & 0o7777, sock.uid, sock.gid]).toEqual([0o660, 0, gid]);
  });

  test("a member of the group gets status as JSON with exit 0", async () => {
    const r = await runAs(member, [FIREZONECTL, "status", "--json"], { FIREZONE_SOCKET: daemon.socketPath });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).state).toBe("signed_out");
  });

  test("a user outside the group is refused by the kernel with exit 77 and the usermod fix", async () => {
    const r = await runAs(outsider, [FIREZONECTL, "status"], { FIREZONE_SOCKET: daemon.socketPath });
    expect(r.code).toBe(77);
    expect(r.stderr).toContain(`members of group '${group}'`);
    expect(r.stderr).toContain(`sudo usermod -aG ${group} ${outsider}`);
    expect(r.stderr).toContain("log out and in again");
  });

  test("with the socket world-writable, the daemon's own check still refuses an outsider (exit 77)", async () => {
    const dir = dirname(daemon.socketPath);
    chmodSync(dir, 0o755);
    chmodSync(daemon.socketPath, 0o666);
    try {
      const r = await runAs(outsider, [FIREZONECTL, "status"], { FIREZONE_SOCKET: daemon.socketPath });
      expect(r.code).toBe(77);
      expect(r.stderr).toContain(`is not in group '${group}'`);
      expect(r.stderr).toContain(`sudo usermod -aG ${group} ${outsider}`);
    } finally {
      chmodSync(dir, 0o750);
      chmodSync(daemon.socketPath, 0o660);
    }
  });

  test("root is admin and a member is member, as the hello says", async () => {
    const asRoot = await connectDaemon({ socketPath: daemon.socketPath });
    expect(asRoot.hello.tier).toBe("admin");
    asRoot.close();
    const r = await runAs(
      member,
      [stageBun(), stageScript(join(import.meta.dir, "fixtures/hello_role.ts"))],
      { FIREZONE_SOCKET: daemon.socketPath },
    );
    expect(r.stdout.trim()).toBe("member");
  });

  test("state-changing requests are audited with uid, user, pid, executable, method and result", async () => {
    const r = await runAs(member, [FIREZONECTL, "sign-out"], { FIREZONE_SOCKET: daemon.socketPath });
    expect(r.code).toBe(0);
    const audit = readFileSync(join(daemon.dir, "log", "audit.log"), "utf8");
    const line = audit.trim().split("\n").at(-1)!;
    expect(line).toContain(`user="${member}"`);
    expect(line).toContain('method="sign_out"');
    expect(line).toContain('result="ok"');
    expect(line).toContain(`exe="${FIREZONECTL}"`);
    expect(line).toMatch(/uid=\d+ .*pid=\d+/);
  });
});
