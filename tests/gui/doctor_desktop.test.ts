// `firezonectl doctor` as the desktop user checks what the tray needs on that user's session bus: a
// StatusNotifierWatcher, a Secret Service and the xdg handler of sign-in links. A real session bus
// (dbus-daemon), a real gnome-keyring and xdg-mime; the watcher is the test's own D-Bus object.
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { FIREZONECTL, ROOT } from "../_support/build.ts";
import { TestAccounts } from "../_support/users.ts";
import { type Desktop, ensureGuiBuilt, startDesktop } from "./fixtures/desktop.ts";
import { TestFirezoned } from "./fixtures/firezoned.ts";

const isRoot = process.getuid?.() === 0;
const accounts = new TestAccounts();
const desktops: Desktop[] = [];
let daemon: TestFirezoned | null = null;

afterAll(async () => {
  for (const d of desktops) await d.close();
  await daemon?.close();
  accounts.cleanup();
});

interface Check {
  id: string;
  status: string;
  detail: string;
  fix?: string;
}

async function doctorAs(desktop: Desktop, env: Record<string, string> = {}): Promise<Map<string, Check>> {
  const p = Bun.spawn(desktop.asUser([FIREZONECTL, "doctor", "--json"], desktop.env(env)), {
    stdout: "pipe",
    stderr: "pipe",
    stdin: "ignore",
  });
  const out = await new Response(p.stdout).text();
  await p.exited;
  const report = JSON.parse(out) as { checks: Check[] };
  return new Map(report.checks.map((c) => [c.id, c]));
}

describe("doctor's desktop checks", () => {
  test.skipIf(!isRoot)(
    "a desktop with a tray host and a keyring passes both; the link handler fails until its desktop file is installed",
    async () => {
      ensureGuiBuilt();
      const group = accounts.group();
      daemon = new TestFirezoned(group);
      await daemon.start();
      const desktop = await startDesktop({ groups: [group], keyring: true });
      desktops.push(desktop);
      // The host's own applications directories stay out of it: the user's are the only ones.
      const env = { FIREZONE_SOCKET: daemon.socketPath, XDG_DATA_DIRS: join(desktop.dir, "no-share") };
      let checks = await doctorAs(desktop, env);
      expect(checks.get("tray_watcher")?.status).toBe("pass");
      expect(checks.get("secret_service")?.status).toBe("pass");
      const link = checks.get("deep_link")!;
      expect(link.status).toBe("fail");
      expect(link.detail).toContain("dev.firezone.client.desktop is not installed");
      expect(link.fix).toContain("install.sh");
      // Installed (as install.sh does; here in the user's own applications directory), its MimeType
      // line makes it the handler: the check passes.
      const apps = join(desktop.home, ".local", "share", "applications");
      expect(Bun.spawnSync(desktop.asUser(["mkdir", "-p", apps], desktop.env())).exitCode).toBe(0);
      const desktopFile = join(ROOT, "packaging", "dev.firezone.client.desktop");
      expect(
        Bun.spawnSync(["install", "-m", "0644", "-o", String(desktop.uid), desktopFile, apps]).exitCode,
      ).toBe(0);
      checks = await doctorAs(desktop, env);
      expect(checks.get("deep_link")?.status).toBe("pass");
      expect(checks.get("group")?.status).toBe("pass");
    },
  );

  test.skipIf(!isRoot)("no tray host and no Secret Service: both fail with what to install", async () => {
    const desktop = await startDesktop({ groups: [], watcher: false, keyring: false });
    desktops.push(desktop);
    const checks = await doctorAs(desktop);
    expect(checks.get("tray_watcher")).toMatchObject({ status: "fail" });
    expect(checks.get("tray_watcher")!.fix).toContain("appindicator");
    expect(checks.get("secret_service")).toMatchObject({
      status: "fail",
      fix: "sudo apt install gnome-keyring   # then log out and in again",
    });
  });

  test.skipIf(!isRoot)(
    "without a session bus (ssh, a service) the desktop checks are skipped, not failed",
    async () => {
      const desktop = await startDesktop({ groups: [] });
      desktops.push(desktop);
      const checks = await doctorAs(desktop, {
        DBUS_SESSION_BUS_ADDRESS: "",
        XDG_RUNTIME_DIR: "/nonexistent",
      });
      for (const id of ["tray_watcher", "secret_service", "deep_link"])
        expect(checks.get(id)?.status).toBe("skip");
    },
  );
});
