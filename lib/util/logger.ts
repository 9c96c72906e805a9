export type LogLevel = "debug" | "info" | "warn" | "error";

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(name: string): Logger;
}

export interface LoggerOptions {
  name: string;
  /** A function is asked at each line, so a reloaded configuration changes the level live. */
  level?: LogLevel | (() => LogLevel);
  /** Where lines go; defaults to stderr. */
  write?: (line: string) => void;
  /** Prefix lines with syslog priorities (`<6>`) so journald keeps the level. */
  journald?: boolean;
  /** Clock, injected for tests. */
  now?: () => Date;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const SYSLOG: Record<LogLevel, number> = { debug: 7, info: 6, warn: 4, error: 3 };

function formatValue(value: unknown): string {
  if (typeof value === "string")
    return /^[\w./:@+-]*$/.test(value) && value !== "" ? value : JSON.stringify(value);
  if (value instanceof Error) return JSON.stringify(value.message);
  return JSON.stringify(value) ?? "undefined";
}

/** Formats `msg key=value ...` lines; under journald the timestamp is left to the journal. */
export function createLogger(options: LoggerOptions): Logger {
  const level = options.level ?? "info";
  const min = typeof level === "function" ? () => RANK[level()] : () => RANK[level];
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const now = options.now ?? (() => new Date());
  const emit = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (RANK[level] < min()) return;
    let line = `${level.toUpperCase()} ${options.name}: ${msg}`;
    if (fields) for (const [k, v] of Object.entries(fields)) line += ` ${k}=${formatValue(v)}`;
    write(options.journald ? `<${SYSLOG[level]}>${line}` : `${now().toISOString()} ${line}`);
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    child: (name) => createLogger({ ...options, name: `${options.name}.${name}` }),
  };
}

/** A logger that drops everything, for tests and one-shot CLI calls. */
export const silentLogger: Logger = createLogger({ name: "silent", level: "error", write: () => {} });
