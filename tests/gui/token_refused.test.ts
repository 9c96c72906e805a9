// firezoned refusing its service token file still runs and serves IPC, so the tray shows the
// administrator's fix (from the daemon's lastError) instead of "the daemon is not running".
import { afterAll, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { TestAccounts } from "../_support/users.ts";
import { type Desktop, startDesktop } from "./fixtures/desktop.ts";
import { TestFirezoned } from "./fixtures/firezoned.ts";
import { eventually, labels, readMenu } from "./fixtures/tray_reader.ts";

const accounts = new TestAccounts();
// Under /run (root-only), so the refusal is about the file itself.
const safe = mkdtempSync("/run/fzgui-token-");
let daemon: TestFirezoned | undefined;
let desktop: Desktop | undefined;

afterAll(async () => {
  await desktop?.close();
  await daemon?.close();
  accounts.cleanup();
  rmSync(safe, { recursive: true, force: true });
});

test("a world-readable token file: the tray says service mode and shows the chmod fix, not systemctl start", async () => {
  const group = accounts.group();
  const tokenFile = join(safe, "token");
  writeFileSync(tokenFile, "service-secret\n", { mode: 0o644 });
  chmodSync(tokenFile, 0o644);
  daemon = new TestFirezoned(group, { FIREZONE_TOKEN_FILE: tokenFile });
  await daemon.start();
  desktop = await startDesktop({ groups: [group], keyring: true });
  desktop.storeKeyringToken("a-user-token");
  const gui = await desktop.startGui({ FIREZONE_SOCKET: daemon.socketPath });
  const menu = await eventually(
    async () => labels(await readMenu(desktop!.bus, gui.itemName)),
    (l) => l.some((x) => x.startsWith("Last error:")),
    "the refusal in the menu",
  );
  expect(menu[0]).toBe("Signed out (service mode: ask your administrator)");
  const last = menu.find((x) => x.startsWith("Last error:"))!;
  expect(last).toContain("refusing the service token");
  expect(last).toContain(`sudo chmod 600 ${tokenFile}`);
  expect(menu.join("\n")).not.toContain("systemctl start");
  expect(menu).not.toContain("Sign In");
  expect(menu.join("\n")).not.toContain("service-secret");
  // Service mode: the member's keyring token is not sent over the administrator's setup.
  await Bun.sleep(300);
  expect(daemon.audit().filter((a) => a.uid === desktop!.uid)).toEqual([]);
}, 30_000);
