// Makes docs/tray.png: firezone-gui's menu, opened in a real tray host (xfce4-panel with the
// StatusNotifier plugin) under Xvfb. Run as root: `bun tests/gui/screenshot.ts [out.png]`.
// The user is signed in to the devstack portal (a token in the keyring, as after a browser
// sign-in), so the menu shows who and the resources.
import { chownSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { startPortal } from "../../devstack/portal/server.ts";
import { Store } from "../../devstack/portal/store.ts";
import { silentLogger } from "../../lib/util/index.ts";
import { waitFor } from "../_support/daemon.ts";
import { TestAccounts } from "../_support/users.ts";
import { seed, tempDir } from "../portal/_helpers.ts";
import { startDesktop } from "./fixtures/desktop.ts";
import { TestFirezoned } from "./fixtures/firezoned.ts";
import { eventually, labels, readMenu } from "./fixtures/tray_reader.ts";
import { startXvfb } from "./fixtures/xvfb.ts";

const OUT = resolve(process.argv[2] ?? join(import.meta.dir, "../../docs/tray.png"));
const WIDTH = 720;
const HEIGHT = 420;
// The middle of the panel, where the StatusNotifier plugin sits: the icon alone, then with room
// for the menu and a submenu.
const ICON_CROP = "150x215+285+0";
const MENU_CROP = "410x215+250+0";

// One panel along the top: a spacer, then the StatusNotifier plugin at the right end.
const PANEL_XML = `<?xml version="1.0" encoding="UTF-8"?>
<channel name="xfce4-panel" version="1.0">
  <property name="configver" type="int" value="2"/>
  <property name="panels" type="array">
    <value type="int" value="1"/>
    <property name="panel-1" type="empty">
      <property name="position" type="string" value="p=6;x=0;y=0"/>
      <property name="length" type="uint" value="100"/>
      <property name="position-locked" type="bool" value="true"/>
      <property name="size" type="uint" value="30"/>
      <property name="plugin-ids" type="array">
        <value type="int" value="1"/>
        <value type="int" value="2"/>
        <value type="int" value="3"/>
      </property>
    </property>
  </property>
  <property name="plugins" type="empty">
    <property name="plugin-1" type="string" value="separator">
      <property name="expand" type="bool" value="true"/>
      <property name="style" type="uint" value="0"/>
    </property>
    <property name="plugin-2" type="string" value="sntray"/>
    <property name="plugin-3" type="string" value="separator">
      <property name="expand" type="bool" value="true"/>
      <property name="style" type="uint" value="0"/>
    </property>
  </property>
</channel>
`;

function run(cmd: string[], env?: Record<string, string>): string {
  const r = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe", ...(env ? { env } : {}) });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")}: ${r.stderr.toString()}`);
  return r.stdout.toString();
}

const accounts = new TestAccounts();
const group = accounts.group();
const db = tempDir();
seed(db.db);
const store = new Store(db.db);
const account = store.account("acme")!;
const site = store.createSite(account.id, "eu-west");
for (const [name, address] of [
  ["gitlab.internal", "10.20.0.15"],
  ["metrics", "10.20.8.0/24"],
] as const) {
  const r = store.createResource(account.id, site.id, {
    name,
    type: address.includes("/") ? "cidr" : "ip",
    address,
  });
  store.createPolicy(account.id, store.group(account.id, "eng")!, r.id);
}
const token = store.createClientToken(store.actor(account.id, "alice")!.id).token;
store.close();
const portal = startPortal({ dbPath: db.db, logger: silentLogger });
const daemon = new TestFirezoned(group, { FIREZONE_API_URL: portal.url.replace(/^http/, "ws") });
const xvfb = await startXvfb(`${WIDTH}x${HEIGHT}x24`);
const desktop = await startDesktop({
  groups: [group],
  keyring: true,
  watcher: false,
  notifications: false,
  activation: true,
});
try {
  await daemon.start();
  const conf = join(desktop.home, ".config/xfce4/xfconf/xfce-perchannel-xml");
  mkdirSync(conf, { recursive: true });
  writeFileSync(join(conf, "xfce4-panel.xml"), PANEL_XML);
  for (const d of [
    ".config",
    ".config/xfce4",
    ".config/xfce4/xfconf",
    ".config/xfce4/xfconf/xfce-perchannel-xml",
  ]) {
    chownSync(join(desktop.home, d), desktop.uid, desktop.uid);
  }
  chownSync(join(conf, "xfce4-panel.xml"), desktop.uid, desktop.uid);
  const x = { DISPLAY: xvfb.display };
  run(["xsetroot", "-solid", "#3a6b8c"], { ...x, PATH: "/usr/bin:/bin" });
  const panel = Bun.spawn(desktop.asUser(["xfce4-panel", "--disable-wm-check"], desktop.env(x)), {
    stdout: "ignore",
    stderr: "pipe",
  });
  const dbusIface = (
    await desktop.bus.getProxyObject("org.freedesktop.DBus", "/org/freedesktop/DBus")
  ).getInterface("org.freedesktop.DBus");
  await eventually(
    () => dbusIface.NameHasOwner!("org.kde.StatusNotifierWatcher") as Promise<boolean>,
    (owned) => owned || panel.exitCode !== null,
    "the panel's StatusNotifierWatcher",
    15_000,
  );
  desktop.storeKeyringToken(token);
  const gui = await desktop.startGui(
    { FIREZONE_SOCKET: daemon.socketPath, FIREZONE_ACCOUNT: "acme", ...x },
    false,
  );
  await waitFor(() => gui.log().includes("tray icon registered"), 10_000, "registration with the panel");
  const item = /item=(\S+)/.exec(gui.log())![1]!;
  await eventually(
    async () => labels(await readMenu(desktop.bus, item)),
    (l) => l.includes("gitlab.internal"),
    "signed in with resources",
    20_000,
  );
  await Bun.sleep(1500);
  // Without a window manager the host draws the menu over its own icon, so the picture is two real
  // captures side by side: the icon in the panel, then the same corner with the menu open.
  const shot = (file: string, crop: string) =>
    run(["import", "-display", xvfb.display, "-window", "root", "-crop", crop, "+repage", file]);
  shot(join(desktop.dir, "closed.png"), ICON_CROP);
  run(["xdotool", "mousemove", String(WIDTH / 2), "15", "click", "1"], {
    DISPLAY: xvfb.display,
    PATH: "/usr/bin:/bin",
  });
  await Bun.sleep(1000);
  // Hover the first resource (the fourth row) so its submenu opens too.
  run(["xdotool", "mousemove", String(WIDTH / 2 - 30), "92"], {
    DISPLAY: xvfb.display,
    PATH: "/usr/bin:/bin",
  });
  await Bun.sleep(1000);
  shot(join(desktop.dir, "open.png"), MENU_CROP);
  run([
    "convert",
    join(desktop.dir, "closed.png"),
    join(desktop.dir, "open.png"),
    "-bordercolor",
    "#9a9a9a",
    "-border",
    "1",
    "+append",
    "+repage",
    OUT,
  ]);
  console.log(`wrote ${OUT}`);
  panel.kill("SIGTERM");
} finally {
  await desktop.close();
  await daemon.close();
  await portal.stop();
  db.cleanup();
  await xvfb.stop();
  accounts.cleanup();
}
