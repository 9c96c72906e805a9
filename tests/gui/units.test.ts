// The GUI's pure parts: deep-link parsing, the sign-in attempt, the menu, notices, settings, icons.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  buildMenu,
  initialView,
  loadSettings,
  type MenuNode,
  parseDeepLink,
  problemFrom,
  renderIcon,
  SignInFlow,
  signInUrl,
  statusNotice,
  type TrayView,
  tooltip,
  trayState,
} from "../../lib/gui/index.ts";
import type { IpcResource, Status } from "../../lib/ipc/index.ts";
import { MembershipError } from "../../lib/ipc/index.ts";
import { sampleStatus } from "../_support/status.ts";

const CALLBACK = "firezone-fd0020211111://handle_client_sign_in_callback";
const good = (state = "s1") => `${CALLBACK}?account_slug=acme&actor_name=Ann&fragment=f1&state=${state}`;

describe("parseDeepLink", () => {
  test("accepts the portal's callback", () => {
    expect(parseDeepLink(good())).toEqual({
      ok: true,
      callback: { accountSlug: "acme", actorName: "Ann", fragment: "f1", state: "s1" },
    });
    expect(parseDeepLink(good().replace("?", "/?")).ok).toBe(true);
  });

  test.each([
    ["another scheme", good().replace("firezone-fd0020211111", "firezone"), "scheme"],
    ["another host", good().replace("handle_client_sign_in_callback", "handle_other"), "unknown host"],
    ["a repeated state", `${good()}&state=s2`, "'state' appears more than once"],
    ["a repeated unknown parameter", `${good()}&x=1&x=2`, "'x' appears more than once"],
    ["a missing fragment", good().replace("fragment=f1&", ""), "'fragment' is missing"],
    ["an empty state", good(""), "'state' is missing or empty"],
    ["a path", good().replace("?", "/evil?"), "unexpected path"],
    ["user info", good().replace("://", "://me@"), "unexpected user"],
    ["no URL at all", "handle_client_sign_in_callback", "not a URL"],
    ["a huge URL", `${good()}&pad=${"x".repeat(9000)}`, "too long"],
  ])("refuses %s", (_what, url, reason) => {
    const r = parseDeepLink(url);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toContain(reason);
  });
});

describe("SignInFlow", () => {
  test("a fresh 32-byte hex state and nonce per attempt, in the portal URL", () => {
    const flow = new SignInFlow();
    const a = flow.start("https://portal.example/auth/", "acme");
    const u = new URL(a.url);
    expect(`${u.origin}${u.pathname}`).toBe("https://portal.example/auth/acme");
    expect([...u.searchParams.keys()]).toEqual(["as", "state", "nonce"]);
    expect(u.searchParams.get("state")).toBe(a.state);
    expect(a.state).toMatch(/^[0-9a-f]{64}$/);
    expect(a.nonce).toMatch(/^[0-9a-f]{64}$/);
    const b = flow.start("https://portal.example/auth/", "acme");
    expect(new Set([a.state, a.nonce, b.state, b.nonce]).size).toBe(4);
  });

  test("the token is nonce + fragment, and an attempt completes once", () => {
    const flow = new SignInFlow();
    const p = flow.start("http://127.0.0.1:8080", "acme");
    const cb = { accountSlug: "acme", actorName: "Ann", fragment: "frag", state: p.state };
    expect(
      flow.complete({ ...cb, state: `${p.state.slice(0, -1)}${p.state.endsWith("0") ? "1" : "0"}` }),
    ).toEqual({
      ok: false,
      reason: "state does not match",
    });
    expect(flow.complete({ ...cb, state: "short" })).toEqual({ ok: false, reason: "state does not match" });
    expect(flow.complete(cb)).toEqual({
      ok: true,
      token: `${p.nonce}frag`,
      accountSlug: "acme",
      actorName: "Ann",
    });
    expect(flow.complete(cb)).toEqual({ ok: false, reason: "no sign-in is in progress" });
  });

  test("a newer attempt or a cancel invalidates the older state", () => {
    const flow = new SignInFlow();
    const old = flow.start("http://127.0.0.1:8080", "acme");
    flow.start("http://127.0.0.1:8080", "acme");
    const cb = { accountSlug: "acme", actorName: "Ann", fragment: "f", state: old.state };
    expect(flow.complete(cb).ok).toBe(false);
    flow.cancel();
    expect(flow.pending).toBeNull();
  });

  test("signInUrl encodes the account and drops a query on the base URL", () => {
    expect(signInUrl("http://h/x?y=1", "a b", "s", "n")).toBe(
      "http://h/x/a%20b?as=gui-client&state=s&nonce=n",
    );
  });
});

const status = (patch: Partial<Status>): Status => sampleStatus({ state: "signed_out", ...patch });
const res = (name: string, address: string, site?: string): IpcResource => ({
  id: name,
  name,
  type: "ip",
  address,
  ...(site ? { site: { id: site, name: site } } : {}),
});
const view = (patch: Partial<TrayView>): TrayView => ({
  ...initialView,
  link: "up",
  status: status({}),
  ...patch,
});
const top = (nodes: MenuNode[]) => nodes.map((n) => (n.separator ? "---" : n.label));

describe("buildMenu", () => {
  test("signed out: Sign In; signing in: Waiting for browser... and Cancel sign-in", () => {
    expect(top(buildMenu(view({})))).toEqual([
      "Sign In",
      "---",
      "Export Logs",
      "About Firezone",
      "Quit Firezone",
    ]);
    expect(top(buildMenu(view({ signingIn: true })))).toEqual([
      "Waiting for browser...",
      "Cancel sign-in",
      "---",
      "Export Logs",
      "About Firezone",
      "Quit Firezone",
    ]);
  });

  test("connected: who, Sign Out, and one submenu per resource, by name, with copy actions", () => {
    const v = view({
      status: status({ state: "connected", actor: "Ann" }),
      resources: [res("wiki", "10.0.0.2", "hq"), res("db", "10.0.0.0/24")],
    });
    const menu = buildMenu(v);
    expect(top(menu)).toEqual([
      "Signed in as Ann",
      "Sign Out",
      "---",
      "Resources",
      "db",
      "wiki",
      "---",
      "Export Logs",
      "About Firezone",
      "Quit Firezone",
    ]);
    const wiki = menu.find((n) => n.label === "wiki")!;
    expect(top(wiki.children!)).toEqual(["10.0.0.2", "Copy address", "Copy name", "---", "Site: hq"]);
    expect(wiki.children![1]!.action).toEqual({ kind: "copy", what: "address", text: "10.0.0.2" });
    expect(wiki.children![2]!.action).toEqual({ kind: "copy", what: "name", text: "wiki" });
    expect(menu[0]!.enabled).toBe(false);
  });

  test("not_configured: no Sign In, the daemon's message says what to set; the icon shows an error", () => {
    const msg =
      "No portal URL: set portal_url in /etc/firezoned/firezoned.conf, or run sudo sh install.sh --api-url wss://...";
    const v = view({ status: status({ state: "not_configured", lastError: msg }) });
    expect(top(buildMenu(v))).toEqual([
      "Not configured: firezoned has no portal",
      msg,
      "---",
      "Export Logs",
      "About Firezone",
      "Quit Firezone",
    ]);
    expect(JSON.stringify(buildMenu(v))).not.toContain('"sign_in"');
    expect(trayState(v)).toBe("error");
    expect(tooltip(v)).toEqual({ title: "Firezone: Not configured", body: msg });
  });

  test("service mode offers no Sign Out", () => {
    const menu = buildMenu(view({ status: status({ state: "connected", mode: "service", actor: "svc" }) }));
    expect(top(menu).slice(0, 2)).toEqual([
      "Signed in as svc",
      "Managed by your administrator (service mode)",
    ]);
    expect(JSON.stringify(menu)).not.toContain('"sign_out"');
  });

  test("a problem shows its title, the fix (which copies the command) and Retry now", () => {
    // The fix comes from the refusal's diagnosis, never from the words of the message.
    const problem = problemFrom(
      new MembershipError({ diagnosis: "not_member", group: "fzops", user: "ann" }),
    );
    const menu = buildMenu(view({ link: "down", problem, status: null }));
    expect(top(menu).slice(0, 4)).toEqual([
      "You are not in group 'fzops'",
      "Fix: sudo usermod -aG fzops $USER",
      "then log out and back in",
      "Retry now",
    ]);
    expect(menu[1]!.action).toEqual({ kind: "copy", what: "command", text: "sudo usermod -aG fzops $USER" });
    expect(trayState(view({ link: "down", problem }))).toBe("error");
    expect(tooltip(view({ link: "down", problem })).title).toBe("Firezone: You are not in group 'fzops'");
  });
});

describe("statusNotice", () => {
  const ctx = { userSignedOut: false, resourceCount: 2 };
  test("connected, disconnected with the reason, sign-in failed", () => {
    expect(
      statusNotice(status({ state: "connecting" }), status({ state: "connected", actor: "Ann" }), ctx)?.body,
    ).toBe("Signed in as Ann. 2 resources available.");
    const lost = statusNotice(status({ state: "connected" }), status({ lastError: "token expired" }), ctx);
    expect(lost).toMatchObject({ summary: "Firezone disconnected", body: "token expired" });
    const mine = statusNotice(status({ state: "connected" }), status({}), { ...ctx, userSignedOut: true });
    expect(mine?.body).toBe("You signed out.");
    const failed = statusNotice(status({ state: "connecting" }), status({ lastError: "invalid token" }), ctx);
    expect(failed).toMatchObject({ summary: "Sign-in failed", body: "invalid token" });
    expect(statusNotice(status({}), status({}), ctx)).toBeNull();
  });
});

describe("loadSettings", () => {
  const dir = mkdtempSync(join(tmpdir(), "fzgui-settings-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const base = { HOME: dir, XDG_RUNTIME_DIR: "/run/user/1000" };

  test("the file gives authUrl and accountSlug; the environment overrides them", () => {
    mkdirSync(join(dir, ".config/firezone"), { recursive: true });
    writeFileSync(
      join(dir, ".config/firezone/gui.json"),
      '{"authUrl":"https://p.example","accountSlug":"acme"}',
    );
    const fromFile = loadSettings(base);
    expect(fromFile.ok && fromFile.settings).toMatchObject({ authUrl: "https://p.example", account: "acme" });
    const fromEnv = loadSettings({
      ...base,
      FIREZONE_AUTH_URL: "http://127.0.0.1:1",
      FIREZONE_ALLOW_INSECURE_PORTAL: "1",
      FIREZONE_ACCOUNT: "other",
    });
    expect(fromEnv.ok && fromEnv.settings).toMatchObject({ authUrl: "http://127.0.0.1:1", account: "other" });
    expect(fromEnv.ok && fromEnv.settings.guiSocket).toBe("/run/user/1000/firezone/gui.sock");
  });

  test("no portal by default: without authUrl the sign-in page comes from the daemon", () => {
    rmSync(join(dir, ".config/firezone/gui.json"), { force: true });
    const r = loadSettings(base);
    expect(r.ok && r.settings.authUrl).toBeNull();
    expect(r.ok && r.warnings).toEqual([]);
  });

  test("a plaintext http authUrl is refused with the reason and the opt-in, unless opted in", () => {
    const r = loadSettings({ ...base, FIREZONE_AUTH_URL: "http://portal.example" });
    expect(r.ok && r.settings.authUrl).toBeNull();
    expect(r.ok && r.warnings[0]).toContain("plaintext http");
    expect(r.ok && r.warnings[0]).toContain("FIREZONE_ALLOW_INSECURE_PORTAL=1");
    mkdirSync(join(dir, ".config/firezone"), { recursive: true });
    writeFileSync(
      join(dir, ".config/firezone/gui.json"),
      '{"authUrl":"http://lab.example:8080","allowInsecurePortal":true}',
    );
    const lab = loadSettings(base);
    expect(lab.ok && lab.settings.authUrl).toBe("http://lab.example:8080");
    const other = loadSettings({ ...base, FIREZONE_AUTH_URL: "ftp://portal.example" });
    expect(other.ok && other.settings.authUrl).toBeNull();
    rmSync(join(dir, ".config/firezone/gui.json"), { force: true });
  });

  test("a broken file is ignored with a warning, not fatal", () => {
    writeFileSync(join(dir, ".config/firezone/gui.json"), "{not json");
    const r = loadSettings(base);
    expect(r.ok && r.warnings[0]).toContain("not valid JSON");
    expect(r.ok && r.settings.account).toBeNull();
  });

  test("without XDG_RUNTIME_DIR there is no private socket directory: refuse with the reason", () => {
    const r = loadSettings({ HOME: dir });
    expect(r.ok).toBe(false);
  });
});

describe("icons", () => {
  test("ARGB pixmaps: transparent corners, opaque centre, one look per state", () => {
    const states = ["signed_out", "signing_in", "connected", "reconnecting", "error"] as const;
    const icons = states.map((s) => renderIcon(s, 22));
    for (const px of icons) {
      expect(px.length).toBe(22 * 22 * 4);
      expect(px[0]).toBe(0);
      expect(px[(11 * 22 + 11) * 4]).toBe(255);
    }
    expect(new Set(icons.map((b) => b.toString("base64"))).size).toBe(states.length);
  });
});
