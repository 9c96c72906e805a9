// One line per state-changing request: who (uid, user, pid, executable), what, and how it ended.
// A caller repeating the same request (say, sign_out refused in service mode, thousands of times a
// second) gets its first line written at once and the rest counted into one "repeated" line per
// window; each non-root uid may start only AUDIT_BUDGET new kinds of line per window. So one noisy
// caller adds at most 2 x AUDIT_BUDGET + 1 lines a window, and the rotated files (LogFile) keep
// everyone else's history.
import type { MethodName, PeerInfo } from "../ipc/index.ts";
import { Coalescer, type Logger } from "../util/index.ts";
import { LogFile } from "./log_file.ts";

export type AuditSink = ((peer: PeerInfo, method: MethodName, outcome: string) => void) & {
  /** Writes pending "repeated" lines and closes the file (at shutdown). */
  close(): void;
};

export const AUDIT_WINDOW_MS = 60_000;
export const AUDIT_BUDGET = 10;
/** The executable path and user name come from outside; a line stays short whatever they are. */
const MAX_FIELD = 256;

type Fields = Record<string, string | number>;

function bounded(value: string): string {
  return value.length > MAX_FIELD ? `${value.slice(0, MAX_FIELD)}...` : value;
}

function format(fields: Fields): string {
  return `${new Date().toISOString()} ${Object.entries(fields)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(" ")}`;
}

export interface AuditOptions {
  windowMs?: number;
  budget?: number;
  /** Size and generations of the audit file (defaults: LogFile's). */
  maxBytes?: number;
  keep?: number;
}

/** Writes to the daemon log and, when `file` is writable, to that file as well (rotated). */
export function createAuditSink(logger: Logger, file: string | null, options: AuditOptions = {}): AuditSink {
  const out = file === null ? null : new LogFile(file, options.maxBytes, options.keep);
  if (out && !out.open()) {
    logger.warn("audit file not writable; auditing to the log only", { file });
  }
  const write = (msg: string, fields: Fields) => {
    logger.info(msg, fields);
    out?.write(format(fields));
  };
  const windowMs = options.windowMs ?? AUDIT_WINDOW_MS;
  const coalescer = new Coalescer<Fields>({
    windowMs,
    perSourceBudget: options.budget ?? AUDIT_BUDGET,
    unbudgeted: (uid) => uid === "0",
    emit: (fields) => write("audit", fields),
    repeated: (last, times, ms) => write("audit", { ...last, repeated: times, in_seconds: ms / 1000 }),
    suppressed: (uid, count, ms) =>
      write("audit entries suppressed", { uid: Number(uid), suppressed: count, in_seconds: ms / 1000 }),
  });
  const sink = ((peer, method, outcome) => {
    const fields: Fields = {
      uid: peer.uid,
      user: bounded(peer.user),
      pid: peer.pid,
      exe: bounded(peer.exe ?? "?"),
      method,
      result: outcome,
    };
    const kind = `${fields.user}\u0000${fields.exe}\u0000${method}\u0000${outcome}`;
    coalescer.note(String(peer.uid), kind, fields);
  }) as AuditSink;
  sink.close = () => {
    coalescer.flush();
    out?.close();
  };
  return sink;
}
