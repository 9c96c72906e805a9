// The pending sign-in's lifetime and the redirect page that keeps the nonce out of the browser's argv.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  buildMenu,
  initialView,
  redirectPageHtml,
  removeRedirectPage,
  SIGN_IN_TTL_MS,
  SignInFlow,
  writeRedirectPage,
} from "../../lib/gui/index.ts";

import { redirectTarget } from "./fixtures/desktop.ts";

const dir = mkdtempSync(join(tmpdir(), "fzflow-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("a pending sign-in expires", () => {
  const cb = (state: string) => ({ accountSlug: "acme", actorName: "Ann", fragment: "f", state });

  test("after 10 minutes its link is refused as expired, naming the time and what to do", () => {
    expect(SIGN_IN_TTL_MS).toBe(10 * 60 * 1000);
    let now = 1_000_000;
    const flow = new SignInFlow(() => now);
    const p = flow.start("https://portal.example/auth", "acme");
    now += SIGN_IN_TTL_MS - 1;
    expect(flow.expire()).toBe(false);
    now += 1;
    const late = flow.complete(cb(p.state));
    expect(late).toEqual({
      ok: false,
      expired: true,
      reason: "the sign-in expired: it was not finished within 10 minutes. Click Sign In to start again",
    });
    expect(flow.pending).toBeNull();
    // Said once: the same link again is just unknown.
    expect(flow.complete(cb(p.state))).toEqual({ ok: false, reason: "no sign-in is in progress" });
  });

  test("just inside the limit it completes; a link of another state after expiry is not called expired", () => {
    let now = 0;
    const flow = new SignInFlow(() => now);
    const p = flow.start("https://portal.example/auth", "acme");
    now = SIGN_IN_TTL_MS - 1;
    expect(flow.complete(cb(p.state)).ok).toBe(true);
    const q = flow.start("https://portal.example/auth", "acme");
    now += SIGN_IN_TTL_MS;
    expect(flow.expire()).toBe(true);
    expect(flow.complete(cb("0".repeat(64)))).toEqual({ ok: false, reason: "no sign-in is in progress" });
    // A new Sign In forgets the expired attempt.
    flow.start("https://portal.example/auth", "acme");
    expect(flow.complete(cb(q.state))).toEqual({ ok: false, reason: "state does not match" });
  });
});

describe("the redirect page", () => {
  test("is written 0600 under a fresh name, forwards to the exact URL, and is removed", () => {
    const url = "https://portal.example/auth/acme?as=gui-client&state=s1&nonce=n1";
    const page = writeRedirectPage(dir, url);
    expect(page.fileUrl).toStartWith(`file://${dir}/sign-in-`);
    expect(statSync(page.path).mode & 0o777).toBe(0o600);
    const html = readFileSync(page.path, "utf8");
    expect(redirectTarget(html).href).toBe(url);
    expect(html).toContain(
      'location.replace("https://portal.example/auth/acme?as=gui-client&state=s1&nonce=n1")',
    );
    expect(writeRedirectPage(dir, url).path).not.toBe(page.path);
    removeRedirectPage(page);
    expect(() => statSync(fileURLToPath(page.fileUrl))).toThrow();
    removeRedirectPage(page); // already gone: fine
  });

  test("a URL cannot break out of the attribute or the script", () => {
    const hostile = `https://p.example/a?x="><script>alert(1)</script>&y='</script><b>`;
    const html = redirectPageHtml(hostile);
    expect(html).not.toContain("<script>alert");
    expect(html.match(/<\/script>/g)).toHaveLength(1);
    expect(redirectTarget(html).href).toBe(new URL(hostile).href);
  });
});

describe("service mode in the menu", () => {
  test("a refused service token shows the daemon's message with its fix, and no systemctl start", () => {
    const lastError =
      "refusing the service token /etc/firezoned/token: it is owned by uid 1000, gid 1000 with mode 644, so other users could read or replace it. Fix: sudo chown root:root /etc/firezoned/token && sudo chmod 600 /etc/firezoned/token";
    const menu = buildMenu({
      ...initialView,
      link: "up",
      status: {
        state: "signed_out",
        mode: "service",
        daemonVersion: "0.1.0",
        protocol: 1,
        pid: 1,
        uptimeSeconds: 1,
        resourceCount: 0,
        lastError,
      },
    });
    const labels = menu.map((n) => n.label);
    expect(labels).toContain("Signed out (service mode: ask your administrator)");
    expect(labels).toContain(`Last error: ${lastError}`);
    expect(labels.join("\n")).not.toContain("systemctl start");
    expect(labels).not.toContain("Sign In");
  });
});
