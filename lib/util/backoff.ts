/** How reconnect delays grow: exponential from `initialMs` up to `maxMs`, each spread by `jitter`. */
export interface BackoffOptions {
  /** Delay before the first retry, before jitter. Default 500 ms. */
  initialMs?: number;
  /** Upper bound of the un-jittered delay. Default 30 s. */
  maxMs?: number;
  /** Growth per attempt. Default 2. */
  factor?: number;
  /**
   * Fraction of the delay that is random, 0..1. Default 0.5: the delay lies in [base/2, base],
   * so many clients cut off by one portal restart do not come back in lockstep.
   */
  jitter?: number;
}

export const DEFAULT_BACKOFF: Required<BackoffOptions> = {
  initialMs: 500,
  maxMs: 30_000,
  factor: 2,
  jitter: 0.5,
};

/** The delay before retry number `attempt` (0-based); `random` returns a number in [0, 1). */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions = {},
  random: () => number = Math.random,
): number {
  const o = { ...DEFAULT_BACKOFF, ...options };
  const jitter = Math.min(1, Math.max(0, o.jitter));
  const base = Math.min(o.maxMs, o.initialMs * o.factor ** Math.max(0, attempt));
  return Math.round(base * (1 - jitter) + base * jitter * random());
}

/** A retry counter: `next()` gives the next delay, `reset()` after a success starts over. */
export class Backoff {
  #attempt = 0;
  readonly #options: BackoffOptions;
  readonly #random: () => number;

  constructor(options: BackoffOptions = {}, random: () => number = Math.random) {
    this.#options = options;
    this.#random = random;
  }

  get attempt(): number {
    return this.#attempt;
  }

  next(): number {
    return backoffDelay(this.#attempt++, this.#options, this.#random);
  }

  reset(): void {
    this.#attempt = 0;
  }
}
