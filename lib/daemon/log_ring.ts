// The daemon's recent log lines in memory, for `firezonectl logs` and the debug bundle: members of
// the group read them over IPC, so /var/log/firezoned stays root's. Bounded by lines and bytes; the
// oldest go first. Seeded at start with the tail of the previous run's log file, so a bundle taken
// after a crash still holds what led to it.
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import type { LogLine, LogPage } from "../ipc/index.ts";

export interface LogRingOptions {
  maxLines?: number;
  maxBytes?: number;
  now?: () => number;
}

interface Entry {
  seq: number;
  /** Epoch ms, for `--since`. */
  at: number;
  time: string;
  text: string;
}

const ISO_PREFIX = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z) /;

export class LogRing {
  readonly #entries: Entry[] = [];
  #head = 0;
  #bytes = 0;
  #seq = 0;
  readonly #maxLines: number;
  readonly #maxBytes: number;
  readonly #now: () => number;
  readonly #waiters = new Set<() => void>();

  constructor(opts: LogRingOptions = {}) {
    this.#maxLines = opts.maxLines ?? 20_000;
    this.#maxBytes = opts.maxBytes ?? 8 * 1024 * 1024;
    this.#now = opts.now ?? Date.now;
  }

  /** The seq of the newest line (0 before any). */
  get last(): number {
    return this.#seq;
  }

  get size(): number {
    return this.#entries.length - this.#head;
  }

  /** Adds one line as the logger wrote it (a leading ISO time or a journald `<N>` priority is taken apart). Never throws. */
  push(line: string): void {
    try {
      const m = ISO_PREFIX.exec(line);
      const parsedAt = m ? Date.parse(m[1]!) : Number.NaN;
      const at = Number.isFinite(parsedAt) ? parsedAt : this.#now();
      const text = (m ? line.slice(m[0].length) : line.replace(/^<\d>/, "")).slice(0, 16 * 1024);
      this.#entries.push({ seq: ++this.#seq, at, time: new Date(at).toISOString(), text });
      this.#bytes += text.length + 32;
      while (this.size > this.#maxLines || (this.#bytes > this.#maxBytes && this.size > 1)) {
        const old = this.#entries[this.#head++]!;
        this.#bytes -= old.text.length + 32;
      }
      // Compact now and then, so the array does not grow without end.
      if (this.#head > 4096 && this.#head * 2 > this.#entries.length) {
        this.#entries.splice(0, this.#head);
        this.#head = 0;
      }
      for (const wake of [...this.#waiters]) wake();
    } catch {
      // A log line must never break the code that logged it.
    }
  }

  /**
   * Seeds the ring with the last `maxBytes` of a log file the previous run wrote, before this run's
   * first line. Returns the number of lines taken; a missing or unreadable file gives 0.
   */
  seedFromFile(path: string, maxBytes = 1024 * 1024): number {
    let fd: number;
    try {
      fd = openSync(path, "r");
    } catch {
      return 0;
    }
    try {
      const size = fstatSync(fd).size;
      const start = Math.max(0, size - maxBytes);
      const buf = Buffer.alloc(size - start);
      let got = 0;
      while (got < buf.length) {
        const n = readSync(fd, buf, got, buf.length - got, start + got);
        if (n === 0) break;
        got += n;
      }
      let lines = buf.subarray(0, got).toString("utf8").split("\n");
      // A cut first line is a half line: dropped.
      if (start > 0) lines = lines.slice(1);
      let n = 0;
      for (const line of lines) {
        if (!ISO_PREFIX.test(line)) continue;
        this.push(line);
        n++;
      }
      return n;
    } catch {
      return 0;
    } finally {
      closeSync(fd);
    }
  }

  /**
   * One page: lines after seq `after` (or, without it, from `sinceMs` on, or all held), at most
   * `limit` lines and `maxBytes` of text.
   */
  read(q: {
    after?: number | undefined;
    sinceMs?: number | undefined;
    limit: number;
    maxBytes: number;
  }): LogPage {
    const held = this.#entries.slice(this.#head);
    let from: number;
    if (q.after !== undefined) {
      const first = held[0]?.seq ?? this.#seq + 1;
      from = Math.max(0, q.after + 1 - first);
    } else if (q.sinceMs !== undefined) {
      const since = q.sinceMs;
      from = held.findIndex((e) => e.at >= since);
      if (from < 0) from = held.length;
    } else from = 0;
    const gap = q.after !== undefined && held.length > 0 && q.after + 1 < held[0]!.seq;
    const lines: LogLine[] = [];
    let bytes = 0;
    let i = from;
    for (; i < held.length && lines.length < q.limit; i++) {
      const e = held[i]!;
      // Bytes as they go on the wire: UTF-8, after JSON's escapes.
      const cost = Buffer.byteLength(JSON.stringify(e.text)) + 64;
      if (lines.length > 0 && bytes + cost > q.maxBytes) break;
      bytes += cost;
      lines.push({ seq: e.seq, time: e.time, text: e.text });
    }
    const last = lines.at(-1)?.seq ?? q.after ?? (from > 0 ? held[from - 1]!.seq : (held[0]?.seq ?? 1) - 1);
    return { lines, last: Math.max(0, last), more: i < held.length, gap };
  }

  /** Resolves once a line after `after` exists, or after `ms`; `signal`-free: waiters are few and short. */
  waitFor(after: number, ms: number): Promise<void> {
    if (this.#seq > after || ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#waiters.add(done);
    });
  }

  /** Wakes every waiting reader (at shutdown). */
  wakeAll(): void {
    for (const wake of [...this.#waiters]) wake();
  }
}
