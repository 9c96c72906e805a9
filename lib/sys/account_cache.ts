// Remembers NSS answers briefly, so a burst of requests costs one lookup, and keeps the last good
// answer so a directory server that stops answering does not turn into a wrong one.
import type { Account, AccountLookup } from "./account_lookup.ts";

export interface AccountCacheOptions {
  /** How long an answer counts as current. Default 10 s. */
  ttlMs?: number;
  /** Most uids remembered; the oldest is forgotten first. Default 1024. */
  maxEntries?: number;
  now?: () => number;
}

interface Entry {
  account: Account | null;
  at: number;
}

export class AccountCache {
  readonly ttlMs: number;
  private readonly entries = new Map<number, Entry>();
  private readonly inFlight = new Map<number, Promise<Account | null>>();
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(
    private readonly lookup: AccountLookup,
    options: AccountCacheOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 10_000;
    this.maxEntries = options.maxEntries ?? 1024;
    this.now = options.now ?? Date.now;
  }

  /** The last answer for `uid`, however old; undefined when there has been none. Never waits. */
  peek(uid: number): Account | null | undefined {
    return this.entries.get(uid)?.account;
  }

  /**
   * An answer at most ttlMs old, looked up when needed (one lookup per uid at a time). When the
   * lookup fails, the last good answer stands; with none, the lookup's error is thrown.
   */
  async get(uid: number): Promise<Account | null> {
    const entry = this.entries.get(uid);
    if (entry && this.now() - entry.at <= this.ttlMs) return entry.account;
    let pending = this.inFlight.get(uid);
    if (!pending) {
      pending = this.lookup(uid).finally(() => this.inFlight.delete(uid));
      this.inFlight.set(uid, pending);
    }
    try {
      const account = await pending;
      this.remember(uid, account);
      return account;
    } catch (err) {
      if (entry) return entry.account;
      throw err;
    }
  }

  private remember(uid: number, account: Account | null): void {
    this.entries.delete(uid);
    this.entries.set(uid, { account, at: this.now() });
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }
}
