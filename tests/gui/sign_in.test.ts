// The whole browser sign-in, with every part real: the devstack portal, headless Chromium opening
// the GUI's redirect page and filling the portal's form, the deep link handed over D-Bus as GIO does
// (org.freedesktop.Application.Open), gnome-keyring, and firezoned signing in to the portal; while
// /proc is scanned for any process whose argv holds either half of the token. Then the menu's
// resources, a copy under Xvfb, Sign Out, `gio open` through the packaged .desktop file, and D-Bus
// activation through the packaged service file.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Portal, startPortal } from "../../devstack/portal/server.ts";
import { Store } from "../../devstack/portal/store.ts";
import { connectDaemon } from "../../lib/ipc/index.ts";
import { silentLogger } from "../../lib/util/index.ts";
import { waitFor } from "../_support/daemon.ts";
import { TestAccounts } from "../_support/users.ts";
import { seed, tempDir } from "../portal/_helpers.ts";
import { signInWithBrowser } from "./fixtures/browser.ts";
import { type Desktop, GUI, type GuiProcess, startDesktop } from "./fixtures/desktop.ts";
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
let group: string;
const PACKAGING = join(import.meta.dir, "..", "..", "packaging");

/**
 * Reads every process's argv again and again until stopped, keeping each distinct one: a nonce or
 * fragment passed as an argument to any process, even one that lives for a millisecond or two, is
 * very likely to be caught; one that lives as long as a browser cannot be missed.
 */
function scanArgv(): { stop: () => Promise<Set<string>>; rounds: () => number } {
  const seen = new Set<string>();
  let running = true;
  let rounds = 0;
  const loop = (async () => {
    while (running) {
      for (const pid of readdirSync("/proc")) {
        if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
        try {
          const argv = readFileSync(`/proc/${pid}/cmdline`, "latin1");
          if (argv) seen.add(argv.replaceAll("\0", " "));
        } catch {}
      }
      rounds++;
      await Bun.sleep(1);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return seen;
    },
    rounds: () => rounds,
  };
}

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
  group = accounts.group();
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

  test("Sign In, the redirect page and the portal's form in Chromium, the link over D-Bus: connected, token in the keyring, neither half in any argv", async () => {
    const scan = scanArgv();
    const signedOut = await eventually(
      () => readMenu(desktop.bus, gui.itemName),
      (m) => find(m, "Sign In") !== undefined,
      "Sign In",
    );
    await click(desktop.bus, gui.itemName, find(signedOut, "Sign In")!);
    await waitFor(() => desktop.openedUrls().length === 1, 5000, "xdg-open");
    // xdg-open got the name of a 0600 page of the user's, in its private runtime directory.
    const page = desktop.openedUrls()[0]!;
    expect(page).toStartWith(`file://${desktop.runtimeDir}/firezone/sign-in-`);
    const st = statSync(fileURLToPath(page));
    expect(st.mode & 0o777).toBe(0o600);
    expect(st.uid).toBe(desktop.uid);
    const nonce = desktop.signInUrl(0).searchParams.get("nonce")!;
    expect(nonce).toMatch(/^[0-9a-f]{64}$/);
    expect(page).not.toContain(nonce);

    const deepLink = await signInWithBrowser(page, "alice", "correct horse");
    expect(deepLink).toStartWith("firezone-fd0020211111://handle_client_sign_in_callback?");
    await desktop.openDeepLink(deepLink);

    const fragment = new URL(deepLink).searchParams.get("fragment")!;
    token = `${nonce}${fragment}`;
    await waitFor(() => desktop.keyringToken() === token, 5000, "the token in the keyring");
    await eventually(daemonState, (s) => s === "connected", "firezoned connected", 15_000);
    await waitFor(() => desktop.notificationSummaries().includes("Firezone connected"), 5000, "notification");
    // The sign-in is over: its page with the nonce is gone.
    expect(existsSync(fileURLToPath(page))).toBe(false);

    const argvs = [...(await scan.stop())];
    expect(scan.rounds()).toBeGreaterThan(10);
    // The scan saw the processes of the flow: the tray, and xdg-open given only the page's name.
    expect(argvs.some((a) => a.startsWith(GUI))).toBe(true);
    expect(argvs.filter((a) => a.includes(nonce))).toEqual([]);
    expect(argvs.filter((a) => a.includes(fragment))).toEqual([]);
  }, 120_000);

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

describe("deep links through the desktop's launchers", () => {
  /** Starts a sign-in and has the portal issue a token for it, as its sign-in page would. */
  async function pendingSignIn(d: Desktop, g: GuiProcess, fragment: string): Promise<string> {
    const opened = d.openedUrls().length;
    const menu = await eventually(
      () => readMenu(d.bus, g.itemName),
      (m) => find(m, "Sign In") !== undefined,
      "Sign In",
    );
    await click(d.bus, g.itemName, find(menu, "Sign In")!);
    await waitFor(() => d.openedUrls().length === opened + 1, 5000, "xdg-open");
    const url = d.signInUrl();
    const store = new Store(db.db);
    store.createClientToken(store.actor(store.account("acme")!.id, "alice")!.id, {
      token: `${url.searchParams.get("nonce")}${fragment}`,
    });
    store.close();
    return `firezone-fd0020211111://handle_client_sign_in_callback?account_slug=acme&actor_name=alice&fragment=${fragment}&state=${url.searchParams.get("state")}`;
  }

  test("`gio open` of the link uses the packaged DBusActivatable .desktop file and signs in", async () => {
    // The previous test signed out.
    expect(await daemonState()).toBe("signed_out");
    const link = await pendingSignIn(desktop, gui, "fragGio1");
    // The user's own applications directory holds the packaged handler, and nothing else does.
    const share = join(desktop.home, ".local", "share");
    mkdirSync(join(share, "applications"), { recursive: true });
    copyFileSync(
      join(PACKAGING, "dev.firezone.client.desktop"),
      join(share, "applications", "dev.firezone.client.desktop"),
    );
    Bun.spawnSync(["chown", "-R", `${desktop.uid}:${desktop.uid}`, join(desktop.home, ".local")]);
    // GIO loads a .desktop file only when its Exec program is on PATH, as it is once installed.
    const env = desktop.env({
      XDG_DATA_HOME: share,
      XDG_DATA_DIRS: "/nonexistent",
      XDG_CONFIG_HOME: join(desktop.home, ".config"),
      PATH: `${dirname(GUI)}:/usr/bin:/bin`,
    });
    // Making it the scheme's handler, as `xdg-mime default` or a desktop database would.
    const set = Bun.spawnSync(
      desktop.asUser(
        ["gio", "mime", "x-scheme-handler/firezone-fd0020211111", "dev.firezone.client.desktop"],
        env,
      ),
      { stdout: "pipe", stderr: "pipe" },
    );
    expect(set.exitCode).toBe(0);
    // gio's own argv holds the link: that is how its caller chose to hand it over. What matters
    // here is that GIO passes it on over D-Bus, so no firezone-gui is started with it.
    const r = Bun.spawnSync(desktop.asUser(["gio", "open", link], env), { stdout: "pipe", stderr: "pipe" });
    expect(r.stderr.toString()).toBe("");
    expect(r.exitCode).toBe(0);
    await eventually(daemonState, (s) => s === "connected", "firezoned connected", 15_000);
    expect(desktop.keyringToken()).toEndWith("fragGio1");
  }, 30_000);

  test("a link given in argv (a launcher without D-Bus activation) is refused unused, with what to do", async () => {
    const link =
      "firezone-fd0020211111://handle_client_sign_in_callback?account_slug=acme&actor_name=alice&fragment=f&state=s";
    for (const args of [["--gapplication-service", link], ["open-deep-link", link], [link]]) {
      const r = await desktop.runGui(args);
      expect(r.code).toBe(64);
      expect(r.stderr).not.toContain("fragment=f");
    }
    const r = await desktop.runGui(["--gapplication-service", link]);
    expect(r.stderr).toContain("refusing a sign-in link on the command line");
    expect(r.stderr).toContain("gio open");
    expect(gui.log()).not.toContain("fragment=f");
  });

  test("with no firezone-gui running, the link starts it through the packaged D-Bus service file", async () => {
    const services = mkdtempSync(join(tmpdir(), "fzgui-services-"));
    chmodSync(services, 0o755);
    const d = await startDesktop({ groups: [group], keyring: true, serviceDirs: [services] });
    try {
      const packaged = readFileSync(join(PACKAGING, "dev.firezone.client.service"), "utf8");
      expect(packaged).toContain("Exec=/usr/local/bin/firezone-gui --gapplication-service");
      // The same file, with the binary under test and the settings a login would give it.
      const env = d.env({
        FIREZONE_SOCKET: daemon.socketPath,
        FIREZONE_AUTH_URL: portal.url,
        FIREZONE_ACCOUNT: "acme",
      });
      const exec = [
        "/usr/bin/env",
        ...Object.entries(env)
          .filter(([k]) => k !== "DBUS_SESSION_BUS_ADDRESS")
          .map(([k, v]) => `${k}=${v}`),
        GUI,
      ];
      writeFileSync(
        join(services, "dev.firezone.client.service"),
        packaged.replace("/usr/local/bin/firezone-gui", exec.join(" ")),
        { mode: 0o644 },
      );
      expect(d.watcher.items).toEqual([]);
      // Unsolicited (no sign-in pending in the new instance): it starts the tray and changes nothing.
      await d.openDeepLink(
        "firezone-fd0020211111://handle_client_sign_in_callback?account_slug=acme&actor_name=alice&fragment=x&state=y",
      );
      await waitFor(() => d.watcher.items.length === 1, 15_000, "the activated tray's item");
      expect(d.keyringToken()).toBeNull();
    } finally {
      await d.close();
      rmSync(services, { recursive: true, force: true });
    }
  }, 30_000);
});
