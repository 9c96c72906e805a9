// A socket served by a non-root user (a real one, made with useradd): firezonectl and the tray's
// daemon link report untrusted_daemon cleanly, read nothing that process sent, and build no text or
// fix command from it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chownSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { capture } from "../../devstack/shared/capture.ts";
import { BUN, ensureBuilt, FIREZONECTL } from "../_support/build.ts";
import { waitFor } from "../_support/daemon.ts";
import { stageBun, stageScript } from "../_support/stage.ts";
import { runAs, TestAccounts } from "../_support/users.ts";

const accounts = new TestAccounts();
let dir: string;
let socketPath: string;
let impostor: string;
let impostorUid: number;
let member: string;
let server: Subprocess<"ignore", "pipe", "pipe">;

beforeAll(async () => {
  ensureBuilt();
  const group = accounts.group();
  impostor = accounts.user();
  member = accounts.user(undefined, [group]);
  impostorUid = Number(Bun.spawnSync(["id", "-u", impostor]).stdout.toString().trim());
  dir = mkdtempSync(join(tmpdir(), "fz-impostor-"));
  Bun.spawnSync(["chmod", "755", dir]);
  chownSync(dir, impostorUid, 0);
  socketPath = join(dir, "ipc.sock");
  server = Bun.spawn(
    [
      "runuser",
      "-u",
      impostor,
      "--",
      "env",
      "-i",
      "PATH=/usr/bin:/bin",
      stageBun(),
      stageScript(join(import.meta.dir, "fixtures/impostor_server.ts")),
      socketPath,
    ],
    { stdin: "ignore", stdout: "pipe", stderr: "pipe" },
  );
  await waitFor(
    () => Bun.spawnSync(["test", "-S", socketPath]).exitCode === 0,
    10_000,
    "the impostor to listen",
  );
});

afterAll(() => {
  server?.kill("SIGKILL");
  // runuser forks: killing it leaves the impostor's own process running. Everything of that user goes.
  if (impostor) Bun.spawnSync(["pkill", "-KILL", "-u", impostor]);
  accounts.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function expectClean(text: string): void {
  expect(text).not.toContain("EVIL");
  expect(text).not.toContain("evil");
  expect(text).not.toContain("unexpected error");
  expect(text).not.toMatch(/^\s+at /m);
}

describe("a socket served by a non-root user", () => {
  for (const who of ["root", "a member"] as const) {
    test(`firezonectl run by ${who} says it is not firezoned and exits 69, reading nothing from it`, async () => {
      const user = who === "root" ? "root" : member;
      for (const args of [["status"], ["status", "--json"], ["sign-out"]]) {
        const r = await runAs(user, [FIREZONECTL, ...args], { FIREZONE_SOCKET: socketPath });
        expect(r.code).toBe(69);
        expect(r.stderr).toContain(`runs as uid ${impostorUid}, not root: it is not firezoned`);
        expect(r.stdout).toBe("");
        expectClean(r.stderr);
      }
    });
  }

  test("the tray's daemon link reports untrusted_daemon with a fixed title, no fix, and no unhandled rejection", async () => {
    const r = await capture([BUN, join(import.meta.dir, "fixtures/link_problems.ts")], {
      env: { PATH: process.env.PATH, FIREZONE_SOCKET: socketPath },
    });
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const problems = r.out
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(problems.length).toBeGreaterThan(1);
    for (const p of problems) {
      expect(p.code).toBe("untrusted_daemon");
      expect(p.title).toBe("The Firezone socket is not held by root");
      expect(p.fix).toBeUndefined();
      expectClean(p.detail);
    }
  });
});
