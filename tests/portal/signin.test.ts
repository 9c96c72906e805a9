// The browser sign-in page with plain fetch: form, wrong password, and the deep-link redirect whose
// fragment plus the client's nonce is a working token that the portal never sent whole.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { type Portal, startPortal } from "../../devstack/portal/server.ts";
import { hashToken } from "../../devstack/portal/tokens.ts";
import { silentLogger } from "../../lib/util/index.ts";
import { seed, tempDir } from "./_helpers.ts";

let tmp: ReturnType<typeof tempDir>;
let portal: Portal;
const nonce = "n0nce-from-the-client_0123456789";
const state = "st4te-xyz";

beforeAll(() => {
  tmp = tempDir();
  seed(tmp.db);
  portal = startPortal({ dbPath: tmp.db, logger: silentLogger });
});
afterAll(async () => {
  await portal.stop();
  tmp.cleanup();
});

function signIn(password: string, username = "alice"): Promise<Response> {
  return fetch(`${portal.url}/acme/sign_in`, {
    method: "POST",
    body: new URLSearchParams({ username, password, as: "gui-client", state, nonce }),
    redirect: "manual",
  });
}

test("GET /<account>?as=gui-client&state&nonce shows a plain login form carrying state and nonce", async () => {
  const res = await fetch(`${portal.url}/acme?as=gui-client&state=${state}&nonce=${nonce}`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toContain("text/html");
  const html = await res.text();
  expect(html).toContain('<form method="post" action="/acme/sign_in">');
  expect(html).toContain('name="username"');
  expect(html).toContain('type="password"');
  expect(html).toContain(`value="${nonce}"`);
  expect(html).toContain(`value="${state}"`);
  expect(html).not.toContain("<script");
  // Browsers apply form-action to the POST's redirect too; without the scheme the deep link is blocked.
  expect(res.headers.get("content-security-policy")).toContain("form-action 'self' firezone-fd0020211111:");
});

test("a link without nonce or state, or for another client kind, is refused with 400", async () => {
  expect((await fetch(`${portal.url}/acme?as=gui-client&state=${state}`)).status).toBe(400);
  expect((await fetch(`${portal.url}/acme?as=gui-client&nonce=${nonce}`)).status).toBe(400);
  expect((await fetch(`${portal.url}/acme?as=browser&state=${state}&nonce=${nonce}`)).status).toBe(400);
  expect((await fetch(`${portal.url}/acme?as=gui-client&state=${state}&nonce=short`)).status).toBe(400);
});

test("an unknown account is 404", async () => {
  expect((await fetch(`${portal.url}/nobody?as=gui-client&state=${state}&nonce=${nonce}`)).status).toBe(404);
});

test("a wrong password shows the form again with an error and no redirect", async () => {
  const res = await signIn("wrong horse");
  expect(res.status).toBe(401);
  expect(res.headers.get("location")).toBeNull();
  expect(await res.text()).toContain("Wrong username or password.");
  expect((await signIn("correct horse", "mallory")).status).toBe(401);
});

test("the right password redirects to the deep link; nonce + fragment is a valid token", async () => {
  const res = await signIn("correct horse");
  expect(res.status).toBe(302);
  const location = res.headers.get("location")!;
  expect(location.startsWith("firezone-fd0020211111://handle_client_sign_in_callback?")).toBe(true);
  const q = new URL(location).searchParams;
  expect(q.get("account_slug")).toBe("acme");
  expect(q.get("actor_name")).toBe("alice");
  expect(q.get("state")).toBe(state);
  const fragment = q.get("fragment")!;
  expect(fragment.length).toBeGreaterThanOrEqual(40);
  expect(location).not.toContain(nonce);

  expect(portal.store.checkToken(nonce + fragment, "client").ok).toBe(true);
  expect(portal.store.checkToken(fragment, "client").ok).toBe(false);
  const stored = portal.store.db
    .query("SELECT 1 FROM tokens WHERE hash = ?")
    .get(hashToken(nonce + fragment));
  expect(stored).not.toBeNull();
});
