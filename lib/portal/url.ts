/**
 * The WebSocket URL of a topic's socket from the portal's base URL: `http` becomes `ws`, `https`
 * becomes `wss`, and `/<topic>/websocket` is appended unless the path already ends in `/websocket`.
 */
export function portalWebSocketUrl(base: string, topic: "client" | "gateway"): string {
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw new Error(
      `The portal URL '${base}' is not a URL. Set FIREZONE_API_URL to e.g. wss://api.example.com`,
    );
  }
  if (url.protocol === "http:") url.protocol = "ws:";
  else if (url.protocol === "https:") url.protocol = "wss:";
  else if (url.protocol !== "ws:" && url.protocol !== "wss:") {
    throw new Error(`The portal URL '${base}' must start with ws://, wss://, http:// or https://.`);
  }
  if (url.username || url.password) throw new Error("The portal URL must not carry credentials.");
  if (!url.pathname.endsWith("/websocket"))
    url.pathname = `${url.pathname.replace(/\/+$/, "")}/${topic}/websocket`;
  return url.toString();
}
