// Who is asking: the kernel's record of the connecting process decides membership, the group
// database explains refusals and takes rights away from removed users. Real users (useradd), real
// group changes (gpasswd), the compiled programs.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { FIREZONECTL } from "../_support/build.ts";
import { startDaemon, type TestDaemon } from "../_support/daemon.ts";
import { stageBun, stageScript } from "../_support/stage.ts";
import { runAs, TestAccounts } from "../_support/users.ts";
import { UserShell } from "./_user_shell.ts";

const accounts = new TestAccounts();
const shells: UserShell[] = [];
let daemon: TestDaemon;
let group: string;

function gpasswd(...args: string[]): void {
  const r = Bun.spawnSync(["gpasswd", ...args], { stdout: "ignore", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`gpasswd ${args.join(" ")}: ${r.stderr.toString()}`);
}

async function shell(user: string): Promise<UserShell> {
  const s = await UserShell.start(user, { FIREZONE_SOCKET: daemon.socketPath });
  shells.push(s);
  return s;
}

/** Opens the socket and its directory to everyone, so the daemon's own check is the one that refuses. */
async function withOpenSocket<T>(fn: () => Promise<T>): Promise<T> {
  const dir = dirname(daemon.socketPath);
  chmodSync(dir, 0o755);
  chmodSync(daemon.socketPath, 0o666);
  try {
    return await fn();
  } finally {
    chmodSync(dir, 0o750);
    chmodSync(daemon.socketPath, 0o660);
  }
}

const userns = Bun.spawnSync(["unshare", "-Ur", "true"]).exitCode === 0;

beforeAll(async () => {
  group = accounts.group();
  daemon = await startDaemon(group);
});

afterAll(async () => {
  for (const s of shells) s.close();
  await daemon?.stop();
  accounts.cleanup();
});

describe("membership from the kernel", () => {
  test("added to the group after the session started: the kernel refuses, and the fix is to log in again or newgrp (exit 77)", async () => {
    const user = accounts.user();
    const sh = await shell(user);
    gpasswd("-a", user, group);
    const r = await sh.run(`${FIREZONECTL} status`);
    expect(r.code).toBe(77);
    expect(r.out).toContain(
      `User '${user}' is in group '${group}', but this login session started before that`,
    );
    expect(r.out).toContain(`Log out and in again, or run \`newgrp ${group}\``);
    expect(r.out).not.toContain("usermod");
  });

  test("the same session's process started with sg <group> is accepted and may sign out", async () => {
    const user = accounts.user();
    const sh = await shell(user);
    gpasswd("-a", user, group);
    expect((await sh.run(`${FIREZONECTL} status`)).code).toBe(77);
    const status = await sh.run(`sg ${group} -c '${FIREZONECTL} status --json'`);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.out).state).toBeDefined();
    const signOut = await sh.run(`sg ${group} -c '${FIREZONECTL} sign-out'`);
    expect(signOut.code).toBe(0);
    expect(signOut.out).toContain("Signed out");
  });

  test("the tray's link, in a session that predates joining, shows the log-in-again problem without a usermod fix", async () => {
    const user = accounts.user();
    const sh = await shell(user);
    gpasswd("-a", user, group);
    const r = await sh.run(
      `${stageBun()} ${stageScript(join(import.meta.dir, "fixtures/link_problems.ts"))}`,
    );
    expect(r.code).toBe(0);
    const problem = JSON.parse(r.out.trim().split("\n")[0]!);
    expect(problem).toMatchObject({
      code: "permission_denied",
      title: "Log out and back in to use Firezone",
      afterFix: `You joined group '${group}' after this session started`,
    });
    expect(problem.fix).toBeUndefined();
  });

  test("never in the group: the kernel refuses and the fix is usermod, then log in again (exit 77)", async () => {
    const user = accounts.user();
    const r = await runAs(user, [FIREZONECTL, "status"], { FIREZONE_SOCKET: daemon.socketPath });
    expect(r.code).toBe(77);
    expect(r.stderr).toContain(`sudo usermod -aG ${group} ${user}, then log out and in again`);
    expect(r.stderr).not.toContain("newgrp");
  });

  test("with the socket open to all, the daemon's own check gives the same diagnosis for a session that predates joining", async () => {
    const user = accounts.user();
    const sh = await shell(user);
    gpasswd("-a", user, group);
    const r = await withOpenSocket(() => sh.run(`${FIREZONECTL} status`));
    expect(r.code).toBe(77);
    // The client's own diagnosis (after the kernel's EACCES) starts with "Permission denied on":
    // without it, the words came from the daemon's diagnosis.
    expect(r.out).not.toContain("Permission denied on");
    expect(r.out).toContain(`Log out and in again, or run \`newgrp ${group}\``);
    expect(r.out).not.toContain("usermod");
  });

  test("with the socket open to all, a user in the database but whose process lacks the group is still refused: the kernel's groups decide", async () => {
    const user = accounts.user(undefined, [group]);
    // setpriv drops every supplementary group: the group database lists the user, the process has not got the group.
    const r = await withOpenSocket(() =>
      runAs("root", [
        "setpriv",
        `--reuid=${user}`,
        `--regid=${user}`,
        "--clear-groups",
        "env",
        `FIREZONE_SOCKET=${daemon.socketPath}`,
        FIREZONECTL,
        "status",
      ]),
    );
    expect(r.code).toBe(77);
    expect(r.stderr).toContain("newgrp");
  });

  test("a process given the group with setgroups may read status although the database does not list the user, but may not change anything", async () => {
    const user = accounts.user();
    const cmd = (...args: string[]) =>
      runAs("root", [
        "setpriv",
        `--reuid=${user}`,
        `--regid=${user}`,
        `--groups=${group}`,
        "env",
        `FIREZONE_SOCKET=${daemon.socketPath}`,
        FIREZONECTL,
        ...args,
      ]);
    const status = await cmd("status", "--json");
    expect(status.stderr).toBe("");
    expect(status.code).toBe(0);
    const signOut = await cmd("sign-out");
    expect(signOut.code).toBe(77);
    expect(signOut.stderr).toContain(`User '${user}' is no longer in group '${group}'`);
  });
});

describe("revocation", () => {
  test("a member removed with gpasswd -d loses member rights on a connection opened before, within the cache time", async () => {
    const user = accounts.user(undefined, [group]);
    const proc = Bun.spawn(
      [
        "runuser",
        "-u",
        user,
        "--",
        "env",
        "-i",
        "PATH=/usr/bin:/bin",
        `FIREZONE_SOCKET=${daemon.socketPath}`,
        stageBun(),
        stageScript(join(import.meta.dir, "fixtures/revocation_client.ts")),
      ],
      { stdin: "pipe", stdout: "pipe", stderr: "pipe" },
    );
    const reader = proc.stdout.getReader();
    let out = "";
    while (!out.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      out += new TextDecoder().decode(value);
    }
    expect(out.trim()).toBe("ready member");
    gpasswd("-d", user, group);
    proc.stdin.write("go\n");
    proc.stdin.flush();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      out += new TextDecoder().decode(value);
    }
    await proc.exited;
    const result = JSON.parse(out.trim().split("\n").at(-1)!);
    expect(result.code).toBe("permission_denied");
    expect(result.membership).toEqual({ diagnosis: "removed", group, user });
    expect(result.message).toContain(`User '${user}' is no longer in group '${group}'`);
    const audit = readFileSync(join(daemon.dir, "log", "audit.log"), "utf8")
      .trim()
      .split("\n");
    expect(audit.at(-1)).toContain(`user="${user}"`);
    expect(audit.at(-1)).toContain('result="permission_denied"');
  });
});

describe("user namespaces", () => {
  test.skipIf(!userns)(
    "a member inside unshare -Ur is told the daemon cannot be verified from a user namespace (exit 69)",
    async () => {
      const user = accounts.user(undefined, [group]);
      const r = await runAs(user, ["unshare", "-Ur", FIREZONECTL, "status"], {
        FIREZONE_SOCKET: daemon.socketPath,
      });
      expect(r.code).toBe(69);
      expect(r.stderr).toContain("inside a user namespace");
      expect(r.stderr).toContain("cannot be verified");
      expect(r.stderr).not.toContain("unexpected error");
    },
  );
});
