// Per-source token buckets, so one flooding process cannot starve the stub for everyone else.
// The table of sources is bounded: when it is full, buckets that have refilled are forgotten.

export interface RateLimitOptions {
  /** Sustained queries per second per source address. */
  perSecond: number;
  /** Queries a source may send at once before the sustained rate applies. */
  burst: number;
  /** Sources tracked at once. */
  maxSources?: number;
  now?: () => number;
}

export class SourceRateLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  readonly #perMs: number;
  readonly #burst: number;
  readonly #max: number;
  readonly #now: () => number;

  constructor(options: RateLimitOptions) {
    this.#perMs = options.perSecond / 1000;
    this.#burst = options.burst;
    this.#max = options.maxSources ?? 4096;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Takes one token for `source`; false means drop this query. */
  allow(source: string): boolean {
    const now = this.#now();
    let b = this.#buckets.get(source);
    if (!b) {
      if (this.#buckets.size >= this.#max) this.#sweep(now);
      // Still full: every tracked source is busy; new sources wait for room rather than evicting them.
      if (this.#buckets.size >= this.#max) return false;
      b = { tokens: this.#burst, at: now };
      this.#buckets.set(source, b);
    } else {
      b.tokens = Math.min(this.#burst, b.tokens + (now - b.at) * this.#perMs);
      b.at = now;
    }
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  #sweep(now: number) {
    for (const [k, b] of this.#buckets)
      if (b.tokens + (now - b.at) * this.#perMs >= this.#burst) this.#buckets.delete(k);
  }
}
