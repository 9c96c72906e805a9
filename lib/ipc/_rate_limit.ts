// Connection admission by uid, decided from SO_PEERCRED alone before any other per-connection work
// (no NSS lookup, no /proc read, no buffers): a token bucket per uid for new connections, and caps
// on refused connections that are kept open briefly so their client can read why.

/** A token bucket per key: `burst` at once, then `perSecond` sustained. */
export class TokenBuckets {
  readonly #buckets = new Map<number, { tokens: number; at: number }>();

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly now: () => number = () => performance.now(),
    /** Keys tracked at most; full buckets are forgotten first. */
    private readonly maxKeys = 4096,
  ) {}

  /** Takes one token for `key`; false when its bucket is empty. */
  take(key: number): boolean {
    const t = this.now();
    let b = this.#buckets.get(key);
    if (!b) {
      if (this.#buckets.size >= this.maxKeys) this.#prune(t);
      b = { tokens: this.burst, at: t };
      this.#buckets.set(key, b);
    } else {
      b.tokens = Math.min(this.burst, b.tokens + ((t - b.at) / 1000) * this.perSecond);
      b.at = t;
    }
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  #prune(t: number): void {
    for (const [k, b] of this.#buckets) {
      if (b.tokens + ((t - b.at) / 1000) * this.perSecond >= this.burst) this.#buckets.delete(k);
    }
    // Still full of busy keys (a flood from many uids at once): start afresh rather than grow.
    if (this.#buckets.size >= this.maxKeys) this.#buckets.clear();
  }
}

/** Counts per key with a per-key and a total cap (refused connections still open, for instance). */
export class CappedCounts {
  readonly #counts = new Map<number, number>();
  #total = 0;

  constructor(
    private readonly perKey: number,
    private readonly total: number,
  ) {}

  get size(): number {
    return this.#total;
  }

  /** Counts one more for `key` unless a cap is reached. */
  tryAdd(key: number): boolean {
    const n = this.#counts.get(key) ?? 0;
    if (n >= this.perKey || this.#total >= this.total) return false;
    this.#counts.set(key, n + 1);
    this.#total++;
    return true;
  }

  remove(key: number): void {
    const n = this.#counts.get(key);
    if (n === undefined) return;
    if (n <= 1) this.#counts.delete(key);
    else this.#counts.set(key, n - 1);
    this.#total--;
  }
}
