// The App's own sign-in timers, in-process with short durations: the redirect page (it holds the
// nonce) goes away once the browser had time to read it, and a pending sign-in expires with a
// notification. The bus and the notification server are real (the test user's session bus); the
// token store is an in-memory stand-in, since no sign-in completes here.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { App, type GuiSettings } from "../../lib/gui/index.ts";
import { silentLogger } from "../../lib/util/index.ts";
import { waitFor } from "../_support/daemon.ts";
import { TestAccounts } from "../_support/users.ts";
import { type Desktop, redirectTarget, startDesktop } from "./fixtures/desktop.ts";

const accounts = new TestAccounts();
const runtime = mkdtempSync(join(tmpdir(), "fztimers-"));
chmodSync(runtime, 0o700);
let desktop: Desktop;

beforeAll(async () => {
  desktop = await startDesktop({ groups: [], watcher: false });
});

afterAll(async () => {
  await desktop?.close();
  accounts.cleanup();
  rmSync(runtime, { recursive: true, force: true });
});

function settings(dir: string): GuiSettings {
  return {
    authUrl: "https://portal.example/auth",
    allowInsecure: false,
    account: "acme",
    daemonSocket: join(dir, "no-daemon.sock"),
    runtimeDir: dir,
    guiSocket: join(dir, "gui.sock"),
    configFile: join(dir, "gui.json"),
    stateDir: dir,
    logLevel: "error",
  };
}

function app(
  dir: string,
  openUrl: (url: string) => Promise<void>,
  timers: { pageMs: number; ttlMs: number },
) {
  let stored: string | null = null;
  return new App({
    settings: settings(dir),
    env: {},
    logger: silentLogger,
    bus: desktop.bus as never,
    tokens: {
      load: async () => stored,
      save: async (t) => {
        stored = t;
      },
      remove: async () => stored !== null,
    },
    openUrl,
    redirectPageMs: timers.pageMs,
    signInTtlMs: timers.ttlMs,
    onQuit: () => {},
  });
}

const pages = (dir: string) => readdirSync(dir).filter((f) => f.startsWith("sign-in-"));

describe("sign-in timers", () => {
  test("the page goes once the browser had time to read it; the sign-in expires later with a notice and refuses its link", async () => {
    const dir = mkdtempSync(join(runtime, "a-"));
    const opened: string[] = [];
    const a = app(dir, async (u) => void opened.push(u), { pageMs: 300, ttlMs: 1500 });
    try {
      await a.act({ kind: "sign_in" });
      expect(opened).toHaveLength(1);
      const state = redirectTarget(readFileSync(fileURLToPath(opened[0]!), "utf8")).searchParams.get(
        "state",
      )!;
      await waitFor(() => pages(dir).length === 0, 5000, "the page removed");
      // Still pending: the page is gone, the attempt is not.
      expect(desktop.notificationSummaries()).not.toContain("Sign-in expired");
      await waitFor(
        () => desktop.notificationSummaries().includes("Sign-in expired"),
        5000,
        "the expiry notice",
      );
      const notice = desktop.notifications.received.find((n) => n.summary === "Sign-in expired")!;
      expect(notice.body).toContain("Click Sign In to start again");
      const late = a.handleDeepLink(
        `firezone-fd0020211111://handle_client_sign_in_callback?account_slug=acme&actor_name=a&fragment=f&state=${state}`,
      );
      expect(late).toEqual({
        ok: false,
        error: expect.stringContaining("the sign-in expired"),
      } as never);
    } finally {
      a.stop();
    }
  });

  test("a browser that cannot be opened: the notice names the page, which stays until Cancel", async () => {
    const dir = mkdtempSync(join(runtime, "b-"));
    const a = app(
      dir,
      async () => {
        throw new Error("xdg-open exited with 3: no browser");
      },
      { pageMs: 100, ttlMs: 60_000 },
    );
    try {
      const before = desktop.notifications.received.length;
      await a.act({ kind: "sign_in" });
      await waitFor(
        () =>
          desktop.notifications.received.slice(before).some((n) => n.summary === "Cannot open the browser"),
        5000,
        "the notice",
      );
      const notice = desktop.notifications.received
        .slice(before)
        .find((n) => n.summary === "Cannot open the browser")!;
      const [page] = pages(dir);
      expect(page).toBeDefined();
      expect(notice.body).toContain(`file://${join(dir, page!)}`);
      const nonce = redirectTarget(readFileSync(join(dir, page!), "utf8")).searchParams.get("nonce")!;
      expect(notice.body).not.toContain(nonce);
      await Bun.sleep(300);
      expect(existsSync(join(dir, page!))).toBe(true);
      await a.act({ kind: "cancel_sign_in" });
      expect(pages(dir)).toEqual([]);
    } finally {
      a.stop();
    }
  });
});
