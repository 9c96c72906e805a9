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
  | { ok: false; reason: string; expired?: true };

/**
 * How long a browser sign-in may take. Ten minutes covers a password, a second factor and a slow
 * identity provider, and is the upper bound OAuth 2.0 (RFC 6749, 4.1.2) recommends for an
 * authorization code; a link from a tab left open longer is refused, not used.
 */
export const SIGN_IN_TTL_MS = 10 * 60 * 1000;

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
  /** The state of the last attempt that expired, so its late link gets "expired", not "unknown". */
  private expiredState: string | null = null;

  constructor(
    private readonly now: () => number = Date.now,
    readonly ttlMs = SIGN_IN_TTL_MS,
  ) {}

  get pending(): PendingSignIn | null {
    return this.current;
  }

  /** Starts a new attempt, replacing any earlier one (its deep link will no longer match). */
  start(authUrl: string, account: string): PendingSignIn {
    const state = randomHex32();
    const nonce = randomHex32();
    this.expiredState = null;
    this.current = { url: signInUrl(authUrl, account, state, nonce), state, nonce, startedAt: this.now() };
    return this.current;
  }

  cancel(): void {
    this.current = null;
    this.expiredState = null;
  }

  /** Ends the pending attempt if it is older than the TTL; true when it did. */
  expire(): boolean {
    const pending = this.current;
    if (!pending || this.now() - pending.startedAt < this.ttlMs) return false;
    this.current = null;
    this.expiredState = pending.state;
    return true;
  }

  /**
   * Checks a callback against the pending attempt. On success the attempt is consumed and the
   * token is `nonce + fragment`: the portal never sees the nonce's role, the browser never sees both.
   */
  complete(callback: SignInCallback): CompleteResult {
    this.expire();
    if (this.expiredState !== null && sameSecret(callback.state, this.expiredState)) {
      this.expiredState = null;
      const minutes = Math.round(this.ttlMs / 60_000);
      return {
        ok: false,
        expired: true,
        reason: `the sign-in expired: it was not finished within ${minutes} minutes. Click Sign In to start again`,
      };
    }
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
