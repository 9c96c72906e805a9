// The whole browser sign-in, with every part real: the devstack portal, headless Chromium filling
// its form, the deep link handed to `firezone-gui open-deep-link`, gnome-keyring, and firezoned
// signing in to the portal. Then the menu's resources, a copy under Xvfb, and Sign Out.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type Portal, startPortal } from "../../devstack/portal/server.ts";
import { connectDaemon } from "../../lib/ipc/index.ts";
import { silentLogger } from "../../lib/util/index.ts";
import { waitFor } from "../_support/daemon.ts";
import { TestAccounts } from "../_support/users.ts";
import { seed, tempDir } from "../portal/_helpers.ts";
import { signInWithBrowser } from "./fixtures/browser.ts";
import { type Desktop, type GuiProcess, startDesktop } from "./fixtures/desktop.ts";
import { TestFirezoned } from "./fixtures/firezoned.ts";
import { click, eventually, find, labels, readMenu } from "./fixtures/tray_reader.ts";
import { startXvfb, type Xvfb } from "./fixtures/xvfb.ts";

const accounts = new TestAccounts();
const db = tempDir();
let portal: Portal;
let daemon: TestFirezoned;
let desktop: Desktop;
let gui: GuiProcess;
let xvfb: Xvfb;

async function daemonState(): Promise<string> {
  const c = await connectDaemon({ socketPath: daemon.socketPath });
  try {
    return (await c.call("status", {})).state;
  } finally {
    c.close();
  }
}

beforeAll(async () => {
  seed(db.db);
  portal = startPortal({ dbPath: db.db, logger: silentLogger });
  const group = accounts.group();
  daemon = new TestFirezoned(group, { FIREZONE_API_URL: portal.url.replace(/^http/, "ws") });
  await daemon.start();
  xvfb = await startXvfb();
  desktop = await startDesktop({ groups: [group], keyring: true });
  gui = await desktop.startGui({
    FIREZONE_SOCKET: daemon.socketPath,
    FIREZONE_AUTH_URL: portal.url,
    // The devstack portal is plaintext http: the GUI accepts it only with this opt-in.
    FIREZONE_ALLOW_INSECURE_PORTAL: "1",
    FIREZONE_ACCOUNT: "acme",
    DISPLAY: xvfb.display,
  });
});

afterAll(async () => {
  await desktop?.close();
  await daemon?.close();
  await xvfb?.stop();
  await portal?.stop();
  db.cleanup();
  accounts.cleanup();
});

describe("browser sign-in, end to end", () => {
  let token = "";

  test("Sign In, the portal's form in Chromium, the deep link: firezoned connected, token in the keyring", async () => {
    const signedOut = await eventually(
      () => readMenu(desktop.bus, gui.itemName),
      (m) => find(m, "Sign In") !== undefined,
      "Sign In",
    );
    await click(desktop.bus, gui.itemName, find(signedOut, "Sign In")!);
    await waitFor(() => desktop.openedUrls().length === 1, 5000, "xdg-open");
    const url = desktop.openedUrls()[0]!;
    const nonce = new URL(url).searchParams.get("nonce")!;

    const deepLink = await signInWithBrowser(url, "alice", "correct horse");
    expect(deepLink).toStartWith("firezone-fd0020211111://handle_client_sign_in_callback?");
    const handed = await desktop.runGui(["open-deep-link", deepLink]);
    expect(handed.stderr).toBe("");
    expect(handed.code).toBe(0);

    const fragment = new URL(deepLink).searchParams.get("fragment")!;
    token = `${nonce}${fragment}`;
    await waitFor(() => desktop.keyringToken() === token, 5000, "the token in the keyring");
    await eventually(daemonState, (s) => s === "connected", "firezoned connected", 15_000);
    await waitFor(() => desktop.notificationSummaries().includes("Firezone connected"), 5000, "notification");
  }, 60_000);

  test("the menu shows who is signed in and a submenu per resource", async () => {
    const menu = await eventually(
      () => readMenu(desktop.bus, gui.itemName),
      (m) => find(m, "web") !== undefined,
      "the resource",
    );
    expect(labels(menu).slice(0, 5)).toEqual(["Signed in as alice", "Sign Out", "---", "Resources", "web"]);
    // No gateway runs in this test, and the menu says so.
    expect(labels(find(menu, "web")!.children)).toEqual([
      "172.31.0.10",
      "Copy address",
      "Copy name",
      "---",
      "Site: hq",
      "Gateway: offline",
    ]);
    // "secret" has no policy for alice: the portal never sends it.
    expect(find(menu, "secret")).toBeUndefined();
  });

  test("Copy address puts the address on the X clipboard and says so", async () => {
    const web = find(await readMenu(desktop.bus, gui.itemName), "web")!;
    await click(desktop.bus, gui.itemName, find(web.children, "Copy address")!);
    await waitFor(() => desktop.notificationSummaries().includes("Copied address"), 5000, "notification");
    const r = Bun.spawnSync(
      desktop.asUser(["xclip", "-o", "-selection", "clipboard"], desktop.env({ DISPLAY: xvfb.display })),
      {
        stdout: "pipe",
      },
    );
    expect(r.stdout.toString()).toBe("172.31.0.10");
  });

  test("Sign Out signs firezoned out and deletes the token from the keyring", async () => {
    await click(desktop.bus, gui.itemName, find(await readMenu(desktop.bus, gui.itemName), "Sign Out")!);
    await waitFor(
      () => daemon.audit().some((a) => a.method === "sign_out" && a.uid === desktop.uid),
      5000,
      "sign_out",
    );
    await waitFor(() => desktop.keyringToken() === null, 5000, "the keyring emptied");
    expect(await daemonState()).toBe("signed_out");
    await eventually(
      async () => labels(await readMenu(desktop.bus, gui.itemName)),
      (l) => l[0] === "Sign In",
      "Sign In",
    );
    await waitFor(
      () => desktop.notifications.received.some((n) => n.body === "You signed out."),
      5000,
      "notification",
    );
  });
});
