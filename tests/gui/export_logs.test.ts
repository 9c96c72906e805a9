// The tray's own log under $XDG_STATE_HOME, and "Export Logs", which writes the debug bundle through
// firezonectl into the user's home.
import { afterAll, describe, expect, test } from "bun:test";
import { chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exportLogs } from "../../lib/gui/index.ts";
import { STAGED_DIST } from "../_support/build.ts";
import { startDaemon, type TestDaemon, waitFor } from "../_support/daemon.ts";
import { runAs, TestAccounts } from "../_support/users.ts";
import { type Desktop, ensureGuiBuilt, GUI, startDesktop } from "./fixtures/desktop.ts";
import { TestFirezoned } from "./fixtures/firezoned.ts";
import { click, eventually, find, labels, readMenu } from "./fixtures/tray_reader.ts";

const isRoot = process.getuid?.() === 0;
const accounts = new TestAccounts();
const tmp = mkdtempSync(join(tmpdir(), "fzguilog-"));
let daemon: TestDaemon | null = null;
let desktop: Desktop | null = null;
let trayDaemon: TestFirezoned | null = null;

afterAll(async () => {
  await desktop?.close();
  await trayDaemon?.close();
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

  test.skipIf(!isRoot)(
    "clicking Export Logs in the tray saves a bundle holding the tray's own log, and a notification says where",
    async () => {
      ensureGuiBuilt();
      const group = accounts.group();
      trayDaemon = new TestFirezoned(group);
      await trayDaemon.start();
      desktop = await startDesktop({ groups: [group] });
      const gui = await desktop.startGui({ FIREZONE_SOCKET: trayDaemon.socketPath });
      const menu = await eventually(
        () => readMenu(desktop!.bus, gui.itemName),
        (m) => labels(m).includes("Export Logs"),
        "the Export Logs item",
      );
      await click(desktop.bus, gui.itemName, find(menu, "Export Logs")!);
      await waitFor(
        () => desktop!.notificationSummaries().includes("Logs exported"),
        60_000,
        "the notification",
      );
      const note = desktop.notifications.received.find((n) => n.summary === "Logs exported")!;
      const saved = /Saved to (\S+\.tar\.gz)\./.exec(note.body)?.[1];
      expect(saved?.startsWith(`${desktop.home}/firezone-logs-`)).toBe(true);
      const list = Bun.spawnSync(["tar", "tzf", saved!]).stdout.toString();
      expect(list).toContain("firezone-debug/gui/gui.log");
      expect(list).toContain("firezone-debug/daemon/firezoned.log");
      // The user's file, readable by the user alone.
      expect(statSync(saved!).uid).toBe(desktop.uid);
      expect(statSync(saved!).mode & 0o777).toBe(0o600);
    },
  );
});
