// Bytes one caller may keep in the daemon's memory at once: partial frames being received and
// replies waiting for a slow reader, summed over all of that caller's connections.

export class ByteBudget {
  #used = 0;

  constructor(readonly limit: number) {}

  get used(): number {
    return this.#used;
  }

  /** Takes `n` bytes; false (and nothing taken) when that would exceed the limit. */
  take(n: number): boolean {
    if (this.#used + n > this.limit) return false;
    this.#used += n;
    return true;
  }

  give(n: number): void {
    this.#used = Math.max(0, this.#used - n);
  }
}

/** A budget that never refuses (root, and code that has no caller to charge). */
export const unlimitedBudget = new ByteBudget(Number.POSITIVE_INFINITY);
