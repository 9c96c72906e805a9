// The two common problems of a fresh install, and a desktop without a tray: each is stated once,
// with the fix, and none stops firezone-gui.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { waitFor } from "../_support/daemon.ts";
import { TestAccounts } from "../_support/users.ts";
import { type Desktop, startDesktop } from "./fixtures/desktop.ts";
import { TestFirezoned } from "./fixtures/firezoned.ts";
import { click, eventually, find, labels, readMenu } from "./fixtures/tray_reader.ts";

const accounts = new TestAccounts();
let group: string;
let daemon: TestFirezoned;
const desktops: Desktop[] = [];

beforeAll(async () => {
  group = accounts.group();
  daemon = new TestFirezoned(group);
  await daemon.start();
});

afterAll(async () => {
  for (const d of desktops) await d.close();
  await daemon?.close();
  accounts.cleanup();
});

async function desktop(opts: Parameters<typeof startDesktop>[0]): Promise<Desktop> {
  const d = await startDesktop(opts);
  desktops.push(d);
  return d;
}

describe("firezone-gui problems", () => {
  test("a user outside the daemon's group sees which group to join and how", async () => {
    const d = await desktop({ groups: [] });
    const gui = await d.startGui({ FIREZONE_SOCKET: daemon.socketPath });
    const menu = await eventually(
      async () => labels(await readMenu(d.bus, gui.itemName)),
      (l) => l[0]?.startsWith("You are not in group") ?? false,
      "the group problem",
    );
    expect(menu.slice(0, 3)).toEqual([
      `You are not in group '${group}'`,
      `Fix: sudo usermod -aG ${group} $USER`,
      "then log out and back in",
    ]);
    expect(daemon.audit()).toEqual([]);
  });

  test("open-deep-link with no firezone-gui running exits 69 and says so", async () => {
    const d = await desktop({ groups: [group] });
    const r = await d.runGui(
      ["open-deep-link"],
      {},
      "firezone-fd0020211111://handle_client_sign_in_callback?x=1",
    );
    expect(r.code).toBe(69);
    expect(r.stderr).toContain("firezone-gui is not running");
  });

  test("without a tray host it says so once, keeps running, and shows its icon when one starts", async () => {
    const d = await desktop({ groups: [group], watcher: false });
    const gui = await d.startGui({ FIREZONE_SOCKET: daemon.socketPath }, false);
    await waitFor(
      () => d.notificationSummaries().includes("Firezone is running without a tray icon"),
      5000,
      "notice",
    );
    expect(gui.log().match(/no system tray/g)).toHaveLength(1);
    await d.startWatcher();
    await waitFor(() => d.watcher.items.length === 1, 5000, "registration with the new watcher");
    await eventually(
      async () => labels(await readMenu(d.bus, d.watcher.items[0]!)),
      (l) => l.includes("Sign In"),
      "Sign In in the newly registered item",
    );
    expect(gui.log().match(/no system tray/g)).toHaveLength(1);
    expect(d.notificationSummaries().filter((s) => s.includes("without a tray"))).toHaveLength(1);
  });

  test("service mode: no Sign In or Sign Out, and the keyring's token is not sent", async () => {
    const service = new TestFirezoned(group, {
      FIREZONE_TOKEN: "service-token",
      FIREZONE_API_URL: "ws://127.0.0.1:9",
    });
    await service.start();
    try {
      const d = await desktop({ groups: [group], keyring: true });
      d.storeKeyringToken("a-user-token");
      const gui = await d.startGui({ FIREZONE_SOCKET: service.socketPath });
      const menu = await eventually(
        async () => labels(await readMenu(d.bus, gui.itemName)),
        (l) => l.some((x) => x.includes("service mode")),
        "the service-mode menu",
      );
      expect(menu).not.toContain("Sign In");
      expect(menu).not.toContain("Sign Out");
      await Bun.sleep(300);
      expect(service.audit().filter((a) => a.uid === d.uid)).toEqual([]);
    } finally {
      await service.close();
    }
  });

  test("the session bus going away (logout) ends firezone-gui", async () => {
    const d = await desktop({ groups: [group] });
    const gui = await d.startGui({ FIREZONE_SOCKET: daemon.socketPath });
    await waitFor(() => gui.log().includes(" ready "), 5000, "firezone-gui ready");
    process.kill(d.busPid, "SIGTERM");
    expect(await gui.proc.exited).toBe(1);
    await gui.stop(); // drains its log
    expect(gui.log()).toContain("lost the session bus");
  });

  test("xdg-open failing is reported with the page to open; one that keeps running (a browser) is not", async () => {
    const failing = await desktop({ groups: [group] });
    const a = await failing.startGui({
      FIREZONE_SOCKET: daemon.socketPath,
      FIREZONE_ACCOUNT: "acme",
      FZ_TEST_XDG_OPEN_EXIT: "3",
    });
    const signIn = await eventually(
      () => readMenu(failing.bus, a.itemName),
      (m) => find(m, "Sign In") !== undefined,
      "Sign In",
    );
    await click(failing.bus, a.itemName, find(signIn, "Sign In")!);
    await waitFor(
      () => failing.notificationSummaries().includes("Cannot open the browser"),
      5000,
      "the failure",
    );
    const notice = failing.notifications.received.find((n) => n.summary === "Cannot open the browser")!;
    // It names the redirect page, not the URL with the nonce (half of the token).
    expect(notice.body).toContain(failing.openedUrls()[0]!);
    expect(notice.body).toStartWith("xdg-open exited with 3");
    const target = failing.signInUrl(0);
    // No FIREZONE_AUTH_URL: the sign-in page is on the portal the daemon is configured with.
    expect(target.href).toStartWith("http://127.0.0.1:9/acme?as=gui-client&");
    const nonce = target.searchParams.get("nonce")!;
    expect(nonce).toMatch(/^[0-9a-f]{64}$/);
    expect(notice.body).not.toContain(nonce);

    const slow = await desktop({ groups: [group] });
    const b = await slow.startGui({
      FIREZONE_SOCKET: daemon.socketPath,
      FIREZONE_ACCOUNT: "acme",
      FZ_TEST_XDG_OPEN_SLEEP: "6",
      FZ_TEST_XDG_OPEN_EXIT: "3",
    });
    const menu = await eventually(
      () => readMenu(slow.bus, b.itemName),
      (m) => find(m, "Sign In") !== undefined,
      "Sign In",
    );
    await click(slow.bus, b.itemName, find(menu, "Sign In")!);
    await Bun.sleep(7000);
    expect(slow.openedUrls()).toHaveLength(1);
    expect(slow.notificationSummaries()).not.toContain("Cannot open the browser");
  }, 30_000);
});
