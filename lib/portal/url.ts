// The portal's address. TLS is the rule: the token travels in the first request and the portal
// decides where this host's traffic goes, so a plaintext or unauthenticated portal is never a
// default. `ws://` and `http://` are accepted only when the caller passes `allowInsecure`.

export interface PortalUrlOptions {
  /** Accept `ws://` and `http://` (labs and the devstack); set by `allow_insecure_portal`. */
  allowInsecure?: boolean;
}

const MAX_URL = 2048;

/** How a URL appears in a message: bounded, control characters shown as `?`. */
const shown = (s: string) => s.slice(0, 200).replace(/[\u0000-\u001f\u007f-\u009f]/g, "?");

/**
 * Checks a portal base URL and returns it parsed, or throws an Error whose message says what is
 * wrong and what to write instead.
 */
export function parsePortalUrl(base: string, options: PortalUrlOptions = {}): URL {
  if (base.length > MAX_URL) throw new Error(`The portal URL is longer than ${MAX_URL} characters.`);
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw new Error(`The portal URL '${shown(base)}' is not a URL. Write it like wss://portal.example.com`);
  }
  const secure = url.protocol === "wss:" || url.protocol === "https:";
  const plain = url.protocol === "ws:" || url.protocol === "http:";
  if (!secure && !plain)
    throw new Error(`The portal URL '${shown(base)}' must start with wss:// (or https://).`);
  if (plain && !options.allowInsecure) {
    throw new Error(
      `The portal URL '${shown(base)}' is plaintext (${url.protocol}//): the sign-in token and the tunnel's ` +
        "configuration would cross the network unencrypted, and anyone on the path could act as the portal. " +
        "Use wss://. Only for a lab or the devstack, allow it with allow_insecure_portal = true " +
        "(or FIREZONE_ALLOW_INSECURE_PORTAL=1).",
    );
  }
  if (url.username || url.password) throw new Error("The portal URL must not carry credentials.");
  if (url.search || url.hash)
    throw new Error("The portal URL must not have a query (?...) or a fragment (#...).");
  return url;
}

/**
 * The WebSocket URL of a topic's socket from the portal's base URL: `http` becomes `ws`, `https`
 * becomes `wss`, and `/<topic>/websocket` is appended unless the path already ends in `/websocket`.
 */
export function portalWebSocketUrl(
  base: string,
  topic: "client" | "gateway",
  options: PortalUrlOptions = {},
): string {
  const url = parsePortalUrl(base, options);
  if (url.protocol === "http:") url.protocol = "ws:";
  else if (url.protocol === "https:") url.protocol = "wss:";
  if (!url.pathname.endsWith("/websocket"))
    url.pathname = `${url.pathname.replace(/\/+$/, "")}/${topic}/websocket`;
  return url.toString();
}

/**
 * The portal's base URL as a web address (`wss` -> `https`, `ws` -> `http`, no trailing slash), the
 * form shown in status and used by the GUI for its sign-in page. Assumes a URL parsePortalUrl took.
 */
export function portalWebUrl(base: string): string {
  const url = new URL(base);
  if (url.protocol === "ws:") url.protocol = "http:";
  else if (url.protocol === "wss:") url.protocol = "https:";
  const path = url.pathname.replace(/\/(client|gateway)\/websocket$/, "").replace(/\/+$/, "");
  return `${url.protocol}//${url.host}${path}`;
}
