// firezone-gui on a real session bus against a real firezoned: the item, its menu, clicks, deep
// links, the keyring and the daemon going away and coming back.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { waitFor } from "../_support/daemon.ts";
import { TestAccounts } from "../_support/users.ts";
import { type Desktop, type GuiProcess, startDesktop } from "./fixtures/desktop.ts";
import { TestFirezoned } from "./fixtures/firezoned.ts";
import { click, find, itemProperties, labels, readMenu } from "./fixtures/tray_reader.ts";

const accounts = new TestAccounts();
let group: string;
let daemon: TestFirezoned;
let desktop: Desktop;
let gui: GuiProcess;

async function menuLabels(): Promise<string[]> {
  return labels(await readMenu(desktop.bus, gui.itemName));
}

async function waitForMenu(pred: (labels: string[]) => boolean, what: string): Promise<string[]> {
  let last: string[] = [];
  const until = Date.now() + 10_000;
  while (Date.now() < until) {
    last = await menuLabels();
    if (pred(last)) return last;
    await Bun.sleep(50);
  }
  throw new Error(`menu never showed ${what}; last: ${JSON.stringify(last)}`);
}

beforeAll(async () => {
  group = accounts.group();
  daemon = new TestFirezoned(group);
  await daemon.start();
  desktop = await startDesktop({ groups: [group], keyring: true });
  gui = await desktop.startGui({
    FIREZONE_SOCKET: daemon.socketPath,
    FIREZONE_AUTH_URL: "http://127.0.0.1:9/auth",
    FIREZONE_ACCOUNT: "acme",
  });
});

afterAll(async () => {
  await desktop?.close();
  await daemon?.close();
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
    expect(labelsNow).toEqual(["Sign In", "---", "About Firezone", "Quit Firezone"]);
    const tip = (await itemProperties(desktop.bus, gui.itemName)).ToolTip as [
      string,
      unknown,
      string,
      string,
    ];
    expect(tip[2]).toBe("Firezone: Signed out");
  });

  test("Sign In opens the portal page with a 32-byte hex state and nonce; Cancel returns to Sign In", async () => {
    await click(desktop.bus, gui.itemName, find(await readMenu(desktop.bus, gui.itemName), "Sign In")!);
    await waitFor(() => desktop.openedUrls().length === 1, 5000, "xdg-open");
    const url = new URL(desktop.openedUrls()[0]!);
    expect(`${url.origin}${url.pathname}`).toBe("http://127.0.0.1:9/auth/acme");
    expect(url.searchParams.get("as")).toBe("gui-client");
    expect(url.searchParams.get("state")).toMatch(/^[0-9a-f]{64}$/);
    expect(url.searchParams.get("nonce")).toMatch(/^[0-9a-f]{64}$/);
    expect(url.searchParams.get("state")).not.toBe(url.searchParams.get("nonce"));
    expect(await waitForMenu((l) => l[0] === "Waiting for browser...", "waiting")).toEqual([
      "Waiting for browser...",
      "Cancel sign-in",
      "---",
      "About Firezone",
      "Quit Firezone",
    ]);
    await click(
      desktop.bus,
      gui.itemName,
      find(await readMenu(desktop.bus, gui.itemName), "Cancel sign-in")!,
    );
    await waitForMenu((l) => l[0] === "Sign In", "Sign In again");
  });
});
