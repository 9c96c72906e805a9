// The browser sign-in: GET /<account>?as=gui-client&state=..&nonce=.. shows a login form; a right
// password redirects to the client's deep link with a `fragment`. The token is `nonce + fragment`:
// the redirect alone is not enough to use it, and the store keeps only hash(nonce + fragment).
import type { Logger } from "../../lib/util/index.ts";
import type { Store } from "./store.ts";
import { generateToken, NONCE_PATTERN } from "./tokens.ts";

export const SIGN_IN_DEFAULT_TTL_MS = 7 * 86_400_000;
export const DEEP_LINK = "firezone-fd0020211111://handle_client_sign_in_callback";
const SUPPORTED_AS = new Set(["gui-client", "headless-client"]);

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title: string, body: string, status = 200): Response {
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:sans-serif;max-width:26rem;margin:4rem auto;padding:0 1rem}
label{display:block;margin:.8rem 0 .2rem}input{width:100%;padding:.4rem;box-sizing:border-box}
button{margin-top:1rem;padding:.5rem 1.2rem}.error{color:#b00020}</style></head>
<body>${body}</body></html>\n`;
  return new Response(html, {
    status,
    headers: {
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-store",
      "x-frame-options": "DENY",
      // form-action also governs where the form's POST may redirect: the deep link must be allowed.
      "content-security-policy":
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' firezone-fd0020211111:",
    },
  });
}

interface Params {
  as: string;
  state: string;
  nonce: string;
}

function form(slug: string, accountName: string, p: Params, error?: string, username = ""): Response {
  const hidden = (name: keyof Params) =>
    `<input type="hidden" name="${name}" value="${escapeHtml(p[name])}">`;
  return page(
    `Sign in to ${accountName}`,
    `<h1>Sign in to ${escapeHtml(accountName)}</h1>
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ""}
<form method="post" action="/${encodeURIComponent(slug)}/sign_in">
${hidden("as")}${hidden("state")}${hidden("nonce")}
<label for="username">Username</label><input id="username" name="username" autocomplete="username" required value="${escapeHtml(username)}">
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>`,
    error ? 401 : 200,
  );
}

function checkParams(p: Partial<Params>): string | undefined {
  if (!p.as || !SUPPORTED_AS.has(p.as))
    return "This page signs in the Firezone client: expected as=gui-client.";
  if (!p.state || p.state.length > 512)
    return "The sign-in link is missing its state. Start the sign-in from the client again.";
  if (!p.nonce || !NONCE_PATTERN.test(p.nonce)) {
    return "The sign-in link is missing a valid nonce. Start the sign-in from the client again.";
  }
  return undefined;
}

/** Serves `/<slug>` (form) and `/<slug>/sign_in` (POST); anything else is a 404. */
export async function handleSignIn(
  req: Request,
  url: URL,
  store: Store,
  options: { tokenTtlMs: number; logger: Logger },
): Promise<Response> {
  const m = /^\/([a-z0-9][a-z0-9_-]*)(\/sign_in)?$/.exec(url.pathname);
  const account = m ? store.account(m[1]!) : undefined;
  if (!m || !account || account.slug !== m[1]) return page("Not found", "<h1>No such account</h1>", 404);
  const slug = account.slug;
  if (!m[2]) {
    if (req.method !== "GET") return new Response("method not allowed\n", { status: 405 });
    const p = {
      as: url.searchParams.get("as") ?? "",
      state: url.searchParams.get("state") ?? "",
      nonce: url.searchParams.get("nonce") ?? "",
    };
    const problem = checkParams(p);
    if (problem)
      return page(
        "Cannot sign in",
        `<h1>Cannot sign in</h1><p class="error">${escapeHtml(problem)}</p>`,
        400,
      );
    return form(slug, account.name, p);
  }
  if (req.method !== "POST") return new Response("method not allowed\n", { status: 405 });
  const body = await req.formData().catch(() => undefined);
  const get = (k: string) => {
    const x = body?.get(k);
    return typeof x === "string" ? x : "";
  };
  const p = { as: get("as"), state: get("state"), nonce: get("nonce") };
  const problem = checkParams(p);
  if (problem)
    return page("Cannot sign in", `<h1>Cannot sign in</h1><p class="error">${escapeHtml(problem)}</p>`, 400);
  const username = get("username");
  const actor = store.verifyPassword(account.id, username, get("password"));
  if (!actor) {
    options.logger.info("sign-in refused", { account: slug });
    return form(slug, account.name, p, "Wrong username or password.", username);
  }
  const fragment = generateToken();
  store.createClientToken(actor.id, { token: p.nonce + fragment, expiresInMs: options.tokenTtlMs });
  options.logger.info("signed in", { account: slug, actor: actor.name });
  const target = new URL(DEEP_LINK);
  target.searchParams.set("account_slug", slug);
  target.searchParams.set("actor_name", actor.name);
  target.searchParams.set("fragment", fragment);
  target.searchParams.set("state", p.state);
  return new Response(null, {
    status: 302,
    headers: { location: target.toString(), "cache-control": "no-store" },
  });
}
