// One browser sign-in at a time: a fresh random state and nonce per attempt, the URL to open, and
// the check of the callback that comes back through the deep link.
import { randomBytes, timingSafeEqual } from "node:crypto";
import type { SignInCallback } from "./deep_link.ts";

export interface PendingSignIn {
  url: string;
  state: string;
  nonce: string;
  startedAt: number;
}

export type CompleteResult =
  | { ok: true; token: string; accountSlug: string; actorName: string }
  | { ok: false; reason: string };

/** 32 random bytes as 64 lowercase hex characters. */
export function randomHex32(): string {
  return randomBytes(32).toString("hex");
}

/** Builds `<authUrl>/<account>?as=gui-client&state=..&nonce=..`, keeping any path already on authUrl. */
export function signInUrl(authUrl: string, account: string, state: string, nonce: string): string {
  const url = new URL(authUrl);
  url.pathname = `${url.pathname.replace(/\/+$/, "")}/${encodeURIComponent(account)}`;
  url.search = "";
  url.searchParams.set("as", "gui-client");
  url.searchParams.set("state", state);
  url.searchParams.set("nonce", nonce);
  return url.toString();
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a, "utf8");
  const y = Buffer.from(b, "utf8");
  // timingSafeEqual needs equal lengths; the length of a random 64-char state is no secret.
  return x.length === y.length && timingSafeEqual(x, y);
}

export class SignInFlow {
  private current: PendingSignIn | null = null;

  constructor(private readonly now: () => number = Date.now) {}

  get pending(): PendingSignIn | null {
    return this.current;
  }

  /** Starts a new attempt, replacing any earlier one (its deep link will no longer match). */
  start(authUrl: string, account: string): PendingSignIn {
    const state = randomHex32();
    const nonce = randomHex32();
    this.current = { url: signInUrl(authUrl, account, state, nonce), state, nonce, startedAt: this.now() };
    return this.current;
  }

  cancel(): void {
    this.current = null;
  }

  /**
   * Checks a callback against the pending attempt. On success the attempt is consumed and the
   * token is `nonce + fragment`: the portal never sees the nonce's role, the browser never sees both.
   */
  complete(callback: SignInCallback): CompleteResult {
    const pending = this.current;
    if (!pending) return { ok: false, reason: "no sign-in is in progress" };
    if (!sameSecret(callback.state, pending.state)) return { ok: false, reason: "state does not match" };
    this.current = null;
    return {
      ok: true,
      token: pending.nonce + callback.fragment,
      accountSlug: callback.accountSlug,
      actorName: callback.actorName,
    };
  }
}
