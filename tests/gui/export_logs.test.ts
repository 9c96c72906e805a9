// The tray's own log under $XDG_STATE_HOME, and "Export Logs", which writes the debug bundle through
// firezonectl into the user's home.
import { afterAll, describe, expect, test } from "bun:test";
import { chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exportLogs } from "../../lib/gui/index.ts";
import { STAGED_DIST } from "../_support/build.ts";
import { startDaemon, type TestDaemon } from "../_support/daemon.ts";
import { runAs, TestAccounts } from "../_support/users.ts";
import { ensureGuiBuilt, GUI } from "./fixtures/desktop.ts";

const isRoot = process.getuid?.() === 0;
const accounts = new TestAccounts();
const tmp = mkdtempSync(join(tmpdir(), "fzguilog-"));
let daemon: TestDaemon | null = null;

afterAll(async () => {
  await daemon?.stop();
  accounts.cleanup();
  rmSync(tmp, { recursive: true, force: true });
});

describe("the tray's log and Export Logs", () => {
  test.skipIf(!isRoot)(
    "firezone-gui writes its log to $XDG_STATE_HOME/firezone/gui.log, 0600 in a 0700 directory",
    async () => {
      ensureGuiBuilt();
      const user = accounts.user();
      const uid = Number(Bun.spawnSync(["id", "-u", user]).stdout.toString().trim());
      const home = join(tmp, "home");
      mkdirSync(join(home, "run"), { recursive: true, mode: 0o700 });
      for (const p of [tmp, home, join(home, "run")]) chownSync(p, p === tmp ? 0 : uid, -1);
      Bun.spawnSync(["chmod", "755", tmp]);
      // No session bus: the tray stops at once, and says why in its log as well as on stderr.
      const r = await runAs(user, [GUI], {
        XDG_STATE_HOME: join(home, "state"),
        XDG_RUNTIME_DIR: join(home, "run"),
      });
      expect(r.code).not.toBe(0);
      const log = join(home, "state", "firezone", "gui.log");
      expect(statSync(log).mode & 0o777).toBe(0o600);
      expect(statSync(join(home, "state", "firezone")).mode & 0o777).toBe(0o700);
      expect(statSync(log).uid).toBe(uid);
      const text = readFileSync(log, "utf8");
      expect(text).toMatch(/^\d{4}-\d{2}-\d{2}T[\d:.]+Z ERROR firezone-gui: /m);
      expect(r.stderr).toContain(text.split("ERROR firezone-gui: ")[1]!.split("\n")[0]!);
    },
  );

  test.skipIf(!isRoot)(
    "Export Logs writes the bundle into the home directory through firezonectl and says where",
    async () => {
      daemon = await startDaemon(accounts.group());
      const home = mkdtempSync(join(tmp, "exp-"));
      const result = await exportLogs(
        { HOME: home, PATH: `${STAGED_DIST}:/usr/bin:/bin` },
        daemon.socketPath,
      );
      expect(result).toMatchObject({ ok: true });
      if (!result.ok) throw new Error(result.reason);
      expect(result.path.startsWith(`${home}/firezone-logs-`)).toBe(true);
      expect(readdirSync(home)).toEqual([result.path.slice(home.length + 1)]);
      const list = Bun.spawnSync(["tar", "tzf", result.path]).stdout.toString();
      expect(list).toContain("firezone-debug/daemon/firezoned.log");
      expect(list).toContain("firezone-debug/doctor.json");
    },
  );

  test("Export Logs without firezonectl anywhere says so", async () => {
    const result = await exportLogs({ HOME: tmp, PATH: "/nonexistent" }, "/nonexistent.sock");
    expect(result).toEqual({ ok: false, reason: "firezonectl was not found beside firezone-gui or on PATH" });
  });
});
