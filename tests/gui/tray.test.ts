// firezone-gui on a real session bus against a real firezoned: the item, its menu, clicks, deep
// links, the keyring and the daemon going away and coming back.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type Portal, startPortal } from "../../devstack/portal/server.ts";
import { Store } from "../../devstack/portal/store.ts";
import { silentLogger } from "../../lib/util/index.ts";
import { waitFor } from "../_support/daemon.ts";
import { TestAccounts } from "../_support/users.ts";
import { seed, tempDir } from "../portal/_helpers.ts";
import { type Desktop, type GuiProcess, startDesktop } from "./fixtures/desktop.ts";
import { TestFirezoned } from "./fixtures/firezoned.ts";
import { click, eventually, find, itemProperties, labels, readMenu } from "./fixtures/tray_reader.ts";

const accounts = new TestAccounts();
let group: string;
let daemon: TestFirezoned;
let desktop: Desktop;
let gui: GuiProcess;
let portal: Portal;
const db = tempDir();

async function menuLabels(): Promise<string[]> {
  return labels(await readMenu(desktop.bus, gui.itemName));
}

function waitForMenu(pred: (labels: string[]) => boolean, what: string): Promise<string[]> {
  return eventually(menuLabels, pred, what);
}

beforeAll(async () => {
  group = accounts.group();
  seed(db.db);
  portal = startPortal({ dbPath: db.db, logger: silentLogger });
  daemon = new TestFirezoned(group, { FIREZONE_API_URL: portal.url.replace(/^http/, "ws") });
  await daemon.start();
  desktop = await startDesktop({ groups: [group], keyring: true });
  gui = await desktop.startGui({
    FIREZONE_SOCKET: daemon.socketPath,
    FIREZONE_AUTH_URL: "http://127.0.0.1:9/auth",
    FIREZONE_ALLOW_INSECURE_PORTAL: "1",
    FIREZONE_ACCOUNT: "acme",
  });
});

afterAll(async () => {
  await desktop?.close();
  await daemon?.close();
  await portal?.stop();
  db.cleanup();
  accounts.cleanup();
});

describe("firezone-gui tray", () => {
  test("registers a StatusNotifierItem whose menu is a dbusmenu, with an icon and a tooltip", async () => {
    expect(gui.itemName).toMatch(/^org\.kde\.StatusNotifierItem-\d+-1$/);
    const props = await itemProperties(desktop.bus, gui.itemName);
    expect(props.Id).toBe("firezone");
    expect(props.ItemIsMenu).toBe(true);
    expect(props.Menu).toBe("/MenuBar");
    const pixmaps = props.IconPixmap as Array<[number, number, Buffer]>;
    expect(pixmaps.map(([w]) => w)).toContain(22);
    for (const [w, h, data] of pixmaps) expect(data.length).toBe(w * h * 4);
    const labelsNow = await waitForMenu((l) => l.includes("Sign In"), "Sign In");
    expect(labelsNow).toEqual(["Sign In", "---", "Export Logs", "About Firezone", "Quit Firezone"]);
    const tip = (await itemProperties(desktop.bus, gui.itemName)).ToolTip as [
      string,
      unknown,
      string,
      string,
    ];
    expect(tip[2]).toBe("Firezone: Signed out");
  });

  test("Sign In opens the portal page with a 32-byte hex state and nonce; Cancel returns to Sign In", async () => {
    const before = await readMenu(desktop.bus, gui.itemName);
    await click(desktop.bus, gui.itemName, find(before, "Sign In")!);
    await waitFor(() => desktop.openedUrls().length === 1, 5000, "xdg-open");
    const url = desktop.signInUrl(0);
    expect(`${url.origin}${url.pathname}`).toBe("http://127.0.0.1:9/auth/acme");
    expect(url.searchParams.get("as")).toBe("gui-client");
    expect(url.searchParams.get("state")).toMatch(/^[0-9a-f]{64}$/);
    expect(url.searchParams.get("nonce")).toMatch(/^[0-9a-f]{64}$/);
    expect(url.searchParams.get("state")).not.toBe(url.searchParams.get("nonce"));
    expect(await waitForMenu((l) => l[0] === "Waiting for browser...", "waiting")).toEqual([
      "Waiting for browser...",
      "Cancel sign-in",
      "---",
      "Export Logs",
      "About Firezone",
      "Quit Firezone",
    ]);
    // Hosts keep an item's properties by id (libdbusmenu does), so a new layout must not reuse ids.
    const waiting = await readMenu(desktop.bus, gui.itemName);
    const ids = (menu: typeof before): number[] => menu.flatMap((m) => [m.id, ...ids(m.children)]);
    expect(ids(waiting).filter((id) => ids(before).includes(id))).toEqual([]);
    await click(desktop.bus, gui.itemName, find(waiting, "Cancel sign-in")!);
    await waitForMenu((l) => l[0] === "Sign In", "Sign In again");
  });

  test("forged deep links change nothing; the real one stores nonce + fragment and reaches firezoned", async () => {
    await click(desktop.bus, gui.itemName, find(await readMenu(desktop.bus, gui.itemName), "Sign In")!);
    await waitFor(() => desktop.openedUrls().length === 2, 5000, "xdg-open");
    const url = desktop.signInUrl(1);
    const state = url.searchParams.get("state")!;
    const nonce = url.searchParams.get("nonce")!;
    // Play the portal's sign-in page (sign_in.test.ts drives the real one in Chromium): it issues
    // the token nonce + fragment for alice and redirects to the deep link.
    const store = new Store(db.db);
    store.createClientToken(store.actor(store.account("acme")!.id, "alice")!.id, {
      token: `${nonce}frag123`,
    });
    store.close();
    const link = (host: string, query: string) => `firezone-fd0020211111://${host}?${query}`;
    const good = `account_slug=acme&actor_name=Ann%20Smith&fragment=frag123&state=${state}`;
    const forged: Array<[string, string]> = [
      [link("handle_client_sign_in_callback", good.replace(state, "0".repeat(64))), "state does not match"],
      [link("handle_client_sign_in_callback", `${good}&state=${state}`), "appears more than once"],
      [link("handle_client_sign_in_callback", `fragment=evil&${good}`), "appears more than once"],
      [link("evil_host", good), "unknown host"],
      [`https://handle_client_sign_in_callback/?${good}`, "scheme"],
    ];
    for (const [forgery, reason] of forged) {
      const r = await desktop.runGui(["open-deep-link"], {}, forgery);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(reason);
    }
    expect(desktop.keyringToken()).toBeNull();
    expect(daemon.audit().filter((a) => a.method === "sign_in")).toEqual([]);
    expect((await menuLabels())[0]).toBe("Waiting for browser...");

    const ok = await desktop.runGui(["open-deep-link"], {}, link("handle_client_sign_in_callback", good));
    expect(ok.code).toBe(0);
    await waitFor(() => daemon.audit().some((a) => a.method === "sign_in"), 5000, "sign_in at the daemon");
    expect(desktop.keyringToken()).toBe(`${nonce}frag123`);
    const signIns = daemon.audit().filter((a) => a.method === "sign_in");
    expect(signIns).toHaveLength(1);
    expect(signIns[0]!.uid).toBe(desktop.uid);
    // The daemon signed in to the portal; the menu follows its events.
    await waitForMenu((l) => l[0] === "Signed in as alice", "Signed in as alice");

    // The same link again: the attempt was consumed, so no sign-in is pending.
    const replay = await desktop.runGui(["open-deep-link"], {}, link("handle_client_sign_in_callback", good));
    expect(replay.code).toBe(1);
    expect(replay.stderr).toContain("no sign-in is in progress");
    await Bun.sleep(200);
    expect(daemon.audit().filter((a) => a.method === "sign_in")).toHaveLength(1);
  });

  test("a second plain launch exits 0 and leaves the first one running", async () => {
    const second = await desktop.runGui([]);
    expect(second.code).toBe(0);
    expect(second.stderr).toContain("already running");
    expect(gui.proc.exitCode).toBeNull();
    expect(desktop.watcher.items).toEqual([gui.itemName]);
  });

  test("firezoned stopped: the menu names the problem and the fix; started again: it recovers by itself", async () => {
    await daemon.stop();
    const down = await waitForMenu((l) => l[0] === "Firezone daemon is not running", "the problem");
    expect(down.slice(0, 4)).toEqual([
      "Firezone daemon is not running",
      "Fix: sudo systemctl start firezoned",
      "Firezone reconnects by itself once it runs",
      "Retry now",
    ]);
    const tip = (await itemProperties(desktop.bus, gui.itemName)).ToolTip as [
      string,
      unknown,
      string,
      string,
    ];
    expect(tip[2]).toBe("Firezone: Firezone daemon is not running");
    await waitFor(
      () => desktop.notificationSummaries().includes("Firezone disconnected"),
      5000,
      "a notification",
    );

    await daemon.start();
    await waitForMenu((l) => l[0] === "Signed in as alice", "recovery, signed in again");
    await waitFor(
      () => desktop.notificationSummaries().includes("Firezone daemon is back"),
      5000,
      "a notification",
    );
    expect(gui.proc.exitCode).toBeNull();
  });

  test("firezoned back signed out: the GUI signs it in again with the keyring's token", async () => {
    // The restarted daemon lost its in-memory session; the keyring still holds the deep link's token.
    await waitFor(
      () => daemon.audit().filter((a) => a.method === "sign_in" && a.uid === desktop.uid).length >= 2,
      5000,
      "a sign_in from the keyring",
    );
  });

  test("Quit stops the GUI with exit 0", async () => {
    // Clicked while the keyring sign-in the previous test started may still be in flight: its answer
    // rebuilds the menu, and a Quit picked from the menu it replaced must still quit (dbusmenu.ts).
    await click(desktop.bus, gui.itemName, find(await readMenu(desktop.bus, gui.itemName), "Quit Firezone")!);
    expect(await gui.proc.exited).toBe(0);
    console.log(gui.log());
  });

  test("at login the token in the keyring signs the daemon in", async () => {
    await daemon.stop();
    await daemon.start();
    const before = daemon.audit().filter((a) => a.method === "sign_in").length;
    gui = await desktop.startGui({ FIREZONE_SOCKET: daemon.socketPath, FIREZONE_ACCOUNT: "acme" });
    await waitFor(
      () => daemon.audit().filter((a) => a.method === "sign_in").length === before + 1,
      5000,
      "sign_in",
    );
  });

  test("Sign Out asks firezoned and deletes the token from the keyring", async () => {
    await waitForMenu((l) => l[0] === "Signed in as alice", "signed in");
    await click(desktop.bus, gui.itemName, find(await readMenu(desktop.bus, gui.itemName), "Sign Out")!);
    await waitForMenu((l) => l[0] === "Sign In", "Sign In");
    expect(
      daemon
        .audit()
        .filter((a) => a.method === "sign_out")
        .map((a) => a.uid),
    ).toEqual([desktop.uid]);
    expect(desktop.keyringToken()).toBeNull();
    await waitFor(
      () => desktop.notifications.received.some((n) => n.body === "You signed out."),
      5000,
      "notice",
    );
  });

  test("a token the portal refuses: Sign-in failed, and it does not stay in the keyring", async () => {
    const opened = desktop.openedUrls().length;
    await click(desktop.bus, gui.itemName, find(await readMenu(desktop.bus, gui.itemName), "Sign In")!);
    await waitFor(() => desktop.openedUrls().length === opened + 1, 5000, "xdg-open");
    const state = desktop.signInUrl().searchParams.get("state")!;
    const link = `firezone-fd0020211111://handle_client_sign_in_callback?account_slug=acme&actor_name=alice&fragment=never-issued&state=${state}`;
    expect((await desktop.runGui(["open-deep-link"], {}, link)).code).toBe(0);
    await waitFor(
      () => desktop.notificationSummaries().includes("Sign-in failed"),
      10_000,
      "the failure notice",
    );
    await waitFor(() => desktop.keyringToken() === null, 5000, "the refused token deleted");
    await waitForMenu((l) => l[0] === "Sign In", "Sign In");
  });
});
