// Parses the deep link the portal redirects the browser to after sign-in. Everything in it comes from
// a URL any program on the desktop can open, so it is checked strictly before it is trusted.

export const DEEP_LINK_SCHEME = "firezone-fd0020211111";
export const SIGN_IN_CALLBACK_HOST = "handle_client_sign_in_callback";

/** What the portal hands back: the token's second half (`fragment`) and who signed in. */
export interface SignInCallback {
  accountSlug: string;
  actorName: string;
  fragment: string;
  state: string;
}

export type DeepLinkResult = { ok: true; callback: SignInCallback } | { ok: false; reason: string };

const REQUIRED = ["account_slug", "actor_name", "fragment", "state"] as const;
const MAX_URL_LENGTH = 8192;
const MAX_VALUE_LENGTH = 4096;

/**
 * Accepts only `firezone-fd0020211111://handle_client_sign_in_callback?...` with each of
 * account_slug, actor_name, fragment and state present exactly once and non-empty; a repeated
 * parameter of any name is refused, so no two parsers can disagree about which value counts.
 */
export function parseDeepLink(raw: string): DeepLinkResult {
  if (raw.length > MAX_URL_LENGTH) return { ok: false, reason: "deep link is too long" };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: "not a URL" };
  }
  if (url.protocol !== `${DEEP_LINK_SCHEME}:`)
    return { ok: false, reason: `scheme is not ${DEEP_LINK_SCHEME}` };
  if (url.host !== SIGN_IN_CALLBACK_HOST) return { ok: false, reason: `unknown host '${url.host}'` };
  if (url.username || url.password || url.port)
    return { ok: false, reason: "unexpected user, password or port" };
  if (url.pathname !== "" && url.pathname !== "/") return { ok: false, reason: "unexpected path" };

  const seen = new Map<string, string>();
  for (const [key, value] of url.searchParams) {
    if (seen.has(key)) return { ok: false, reason: `parameter '${key}' appears more than once` };
    if (value.length > MAX_VALUE_LENGTH) return { ok: false, reason: `parameter '${key}' is too long` };
    seen.set(key, value);
  }
  for (const key of REQUIRED) {
    if (!seen.get(key)) return { ok: false, reason: `parameter '${key}' is missing or empty` };
  }
  return {
    ok: true,
    callback: {
      accountSlug: seen.get("account_slug")!,
      actorName: seen.get("actor_name")!,
      fragment: seen.get("fragment")!,
      state: seen.get("state")!,
    },
  };
}
