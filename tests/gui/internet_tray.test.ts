// The tray's Internet Resource checkbox on a real session bus against a real firezoned signed in to
// the devstack portal: the tick follows the daemon's switch, and a click switches the daemon (as
// the desktop user, in the audit log). This daemon runs in the host's own network namespace, so
// the portal here offers no Internet Resource and no full-tunnel route is ever installed (the
// switch alone is what the tray shows); tests/e2e/internet.test.ts routes traffic, in namespaces.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type Portal, startPortal } from "../../devstack/portal/server.ts";
import { silentLogger } from "../../lib/util/index.ts";
import { ctl } from "../_support/ctl.ts";
import { waitFor } from "../_support/daemon.ts";
import { TestAccounts } from "../_support/users.ts";
import { seed, tempDir } from "../portal/_helpers.ts";
import { type Desktop, type GuiProcess, startDesktop } from "./fixtures/desktop.ts";
import { TestFirezoned } from "./fixtures/firezoned.ts";
import { click, eventually, find, readMenu } from "./fixtures/tray_reader.ts";

const ROUTE_ALL = "Route all traffic through Firezone";
const accounts = new TestAccounts();
let daemon: TestFirezoned;
let desktop: Desktop;
let gui: GuiProcess;
let portal: Portal;
const db = tempDir();

const checkbox = async () => find(await readMenu(desktop.bus, gui.itemName), ROUTE_ALL);

beforeAll(async () => {
  const group = accounts.group();
  const s = seed(db.db);
  portal = startPortal({ dbPath: db.db, logger: silentLogger });
  daemon = new TestFirezoned(group, { FIREZONE_API_URL: portal.url.replace(/^http/, "ws") });
  await daemon.start();
  desktop = await startDesktop({ groups: [group] });
  // The desktop user signs in, so the session is theirs and its switch is theirs to click
  // (another user's tray shows it greyed out: tests/gui/owner_menu.test.ts).
  const r = await ctl(daemon.socketPath, ["sign-in", "--token-stdin"], `${s.aliceToken}\n`, desktop.user);
  if (r.code !== 0) throw new Error(`sign-in failed: ${r.err}`);
  gui = await desktop.startGui({ FIREZONE_SOCKET: daemon.socketPath, FIREZONE_ACCOUNT: "acme" });
}, 60_000);

afterAll(async () => {
  await desktop?.close();
  await daemon?.close();
  await portal?.stop();
  db.cleanup();
  accounts.cleanup();
});

async function fullTunnelRules(): Promise<string> {
  const p = Bun.spawn(["ip", "rule", "show"], { stdout: "pipe" });
  return (await new Response(p.stdout).text())
    .split("\n")
    .filter((l) => /^64[23]0:/.test(l))
    .join("\n");
}

describe("firezone-gui: the Internet Resource checkbox", () => {
  test("signed in, not offered and off: no checkbox", async () => {
    await eventually(
      async () => readMenu(desktop.bus, gui.itemName),
      (m) => find(m, "Signed in as alice") !== undefined,
      "signed in",
    );
    expect(await checkbox()).toBeUndefined();
  });

  test("switched on with firezonectl while not offered: shown ticked, with the reason, and nothing routed", async () => {
    expect((await ctl(daemon.socketPath, ["internet-resource", "on"])).code).toBe(0);
    const item = await eventually(checkbox, (m) => m?.checked === true, "ticked");
    expect(item?.enabled).toBe(true);
    expect(find(await readMenu(desktop.bus, gui.itemName), "Not offered by your account now")).toBeDefined();
    expect(find(await readMenu(desktop.bus, gui.itemName), "Allow local network access")?.checked).toBe(
      false,
    );
    expect(await fullTunnelRules()).toBe("");
  });

  test("a click switches the daemon off as the desktop user, and the checkbox goes", async () => {
    await click(desktop.bus, gui.itemName, (await checkbox())!);
    await waitFor(
      () => daemon.audit().some((a) => a.method === "set_internet_resource" && a.uid === desktop.uid),
      5000,
      "set_internet_resource from the desktop user",
    );
    expect(JSON.parse((await ctl(daemon.socketPath, ["internet-resource", "--json"])).out)).toMatchObject({
      enabled: false,
    });
    await eventually(checkbox, (m) => m === undefined, "the checkbox gone");
  });
});
