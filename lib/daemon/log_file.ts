// The daemon's own log file beside the journal: /var/log/firezoned/firezoned.log, 0600, rotated
// once at 10 MiB (one old generation kept), so a support bundle never depends on journald.
import { closeSync, fstatSync, openSync, renameSync, writeSync } from "node:fs";

const MAX_BYTES = 10 * 1024 * 1024;

export class LogFile {
  #fd: number | null = null;
  #size = 0;

  constructor(
    private readonly path: string,
    private readonly maxBytes = MAX_BYTES,
  ) {}

  /** Opens (creating) the file; returns false when it cannot be written. */
  open(): boolean {
    try {
      this.#fd = openSync(this.path, "a", 0o600);
      this.#size = fstatSync(this.#fd).size;
      return true;
    } catch {
      this.#fd = null;
      return false;
    }
  }

  /** Appends one line (a timestamp is added when the line has none, as under journald). */
  write(line: string): void {
    if (this.#fd === null) return;
    const text = `${/^\d{4}-/.test(line) ? line : `${new Date().toISOString()} ${line.replace(/^<\d>/, "")}`}\n`;
    try {
      if (this.#size + text.length > this.maxBytes) this.#rotate();
      this.#size += writeSync(this.#fd, text);
    } catch {
      // A full disk must not take the daemon down; the journal still has the line.
    }
  }

  close(): void {
    if (this.#fd !== null) closeSync(this.#fd);
    this.#fd = null;
  }

  #rotate(): void {
    this.close();
    renameSync(this.path, `${this.path}.1`);
    this.open();
  }
}
