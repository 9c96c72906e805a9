// A log file beside the journal (the daemon's, the GUI's), so a support bundle never depends on journald: 0600, rotated by
// size, keeping `keep` older generations (path.1 is the newest). On disk it never exceeds
// (keep + 1) x maxBytes: each line is checked against the limit before it is written, and a line
// longer than MAX_LINE is cut.
import { closeSync, fstatSync, openSync, renameSync, rmSync, writeSync } from "node:fs";

/** firezoned.log and audit.log: 10 MiB each, four older generations, so at most 50 MiB apiece. */
export const LOG_MAX_BYTES = 10 * 1024 * 1024;
export const LOG_KEEP = 4;
/** No single line may take more than this (an absurd path or message is cut, marked with "..."). */
const MAX_LINE = 16 * 1024;

export class LogFile {
  #fd: number | null = null;
  #size = 0;

  constructor(
    private readonly path: string,
    private readonly maxBytes = LOG_MAX_BYTES,
    private readonly keep = LOG_KEEP,
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

  /** Appends one line (a timestamp is added when the line has none, as under journald). Never throws. */
  write(line: string): void {
    if (this.#fd === null) return;
    let text = /^\d{4}-/.test(line) ? line : `${new Date().toISOString()} ${line.replace(/^<\d>/, "")}`;
    if (text.length > MAX_LINE) text = `${text.slice(0, MAX_LINE - 3)}...`;
    const bytes = Buffer.from(`${text}\n`);
    try {
      if (this.#size > 0 && this.#size + bytes.length > this.maxBytes) this.#rotate();
      if (this.#fd === null) return;
      this.#size += writeSync(this.#fd, bytes);
    } catch {
      // A full disk must not take the daemon down; the journal still has the line.
    }
  }

  close(): void {
    if (this.#fd !== null) closeSync(this.#fd);
    this.#fd = null;
  }

  /** path.(keep-1) -> path.keep, ..., path -> path.1; the oldest generation is dropped. */
  #rotate(): void {
    this.close();
    try {
      for (let n = this.keep - 1; n >= 1; n--) {
        try {
          renameSync(`${this.path}.${n}`, `${this.path}.${n + 1}`);
        } catch {
          // That generation does not exist yet.
        }
      }
      if (this.keep >= 1) renameSync(this.path, `${this.path}.1`);
      else rmSync(this.path, { force: true });
    } finally {
      // Whatever happened to the old file, later lines go to a fresh one.
      this.open();
    }
  }
}

/**
 * The tray's own log: `$XDG_STATE_HOME/firezone/gui.log` (default `~/.local/state/...`), where the
 * debug bundle finds it. Null without a home to put it in.
 */
export function guiLogPath(env: Record<string, string | undefined>): string | null {
  const state = env.XDG_STATE_HOME?.startsWith("/")
    ? env.XDG_STATE_HOME
    : env.HOME?.startsWith("/")
      ? `${env.HOME}/.local/state`
      : null;
  return state ? `${state}/firezone/gui.log` : null;
}
