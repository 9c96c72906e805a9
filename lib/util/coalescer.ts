// Keeps a flood of identical lines from filling a log: the first of a kind is written at once,
// repeats within the window become one "repeated N times" line, and each source (a uid) may start
// only so many new kinds per window, so one noisy caller cannot push everyone else's lines out.
import { type Clock, systemClock } from "./clock.ts";

export interface CoalescerOptions<E> {
  /** Length of the window in which repeats are counted, in ms. */
  windowMs: number;
  /** New kinds of line one source may write per window; further ones are only counted. */
  perSourceBudget: number;
  /** Sources exempt from the budget (their repeats are still coalesced). */
  unbudgeted?: (source: string) => boolean;
  /** Writes an entry seen for the first time in this window. */
  emit: (entry: E) => void;
  /** Writes "the last entry of this kind was repeated `times` more times in `windowMs`". */
  repeated: (last: E, times: number, windowMs: number) => void;
  /** Writes "source left out `count` further entries in `windowMs`". */
  suppressed: (source: string, count: number, windowMs: number) => void;
  clock?: Clock;
}

interface Pending<E> {
  last: E;
  repeats: number;
}

export class Coalescer<E> {
  readonly #o: CoalescerOptions<E>;
  readonly #clock: Clock;
  #kinds = new Map<string, Pending<E>>();
  #written = new Map<string, number>();
  #dropped = new Map<string, number>();
  #timer: unknown = null;

  constructor(options: CoalescerOptions<E>) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
  }

  /** Records one entry of kind `key` from `source`. Never throws: a failing writer is the caller's loss. */
  note(source: string, key: string, entry: E): void {
    const kind = `${source}\u0000${key}`;
    const pending = this.#kinds.get(kind);
    if (pending) {
      pending.repeats++;
      pending.last = entry;
      return;
    }
    const written = this.#written.get(source) ?? 0;
    if (written >= this.#o.perSourceBudget && !this.#o.unbudgeted?.(source)) {
      this.#dropped.set(source, (this.#dropped.get(source) ?? 0) + 1);
      this.#arm();
      return;
    }
    this.#written.set(source, written + 1);
    this.#kinds.set(kind, { last: entry, repeats: 0 });
    this.#arm();
    this.#o.emit(entry);
  }

  /** Writes what the current window has pending and starts a new one (also at shutdown). */
  flush(): void {
    if (this.#timer !== null) this.#clock.clearTimeout(this.#timer);
    this.#timer = null;
    const kinds = this.#kinds;
    const dropped = this.#dropped;
    this.#kinds = new Map();
    this.#written = new Map();
    this.#dropped = new Map();
    for (const p of kinds.values()) if (p.repeats > 0) this.#o.repeated(p.last, p.repeats, this.#o.windowMs);
    for (const [source, count] of dropped) this.#o.suppressed(source, count, this.#o.windowMs);
  }

  #arm(): void {
    if (this.#timer !== null) return;
    const handle = this.#clock.setTimeout(() => {
      this.#timer = null;
      this.flush();
    }, this.#o.windowMs);
    // A pending summary must not keep the process alive on its own.
    (handle as { unref?: () => void } | null)?.unref?.();
    this.#timer = handle;
  }
}
