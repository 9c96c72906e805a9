// The daemon's settings, read once from the environment at start (tests override every path).
import { FzError } from "../types/index.ts";

export interface DaemonConfig {
  socketPath: string;
  /** True when socketPath is the packaged default, whose directory the daemon owns outright. */
  defaultSocket: boolean;
  group: string;
  stateDir: string;
  logDir: string;
  tunName: string;
  apiUrl: string;
  tokenFile: string;
  /** FIREZONE_TOKEN's value, or the contents of the file it names (Docker secrets). */
  envToken: string | null;
  logLevel: "debug" | "info" | "warn" | "error";
}

export const DEFAULTS = {
  socketPath: "/run/firezoned/ipc.sock",
  group: "firezone",
  stateDir: "/var/lib/firezoned",
  logDir: "/var/log/firezoned",
  tunName: "tun-firezone",
  apiUrl: "ws://127.0.0.1:8080",
  tokenFile: "/etc/firezoned/token",
} as const;

const LEVELS = ["debug", "info", "warn", "error"] as const;

/** Reads FIREZONE_* variables; deletes FIREZONE_TOKEN from `env` so children never inherit it. */
export function loadDaemonConfig(env: Record<string, string | undefined>): DaemonConfig {
  const level = env.FIREZONE_LOG_LEVEL ?? "info";
  if (!(LEVELS as readonly string[]).includes(level)) {
    throw new FzError("invalid_request", `FIREZONE_LOG_LEVEL='${level}' is not one of ${LEVELS.join(", ")}`);
  }
  const socketPath = env.FIREZONE_SOCKET || DEFAULTS.socketPath;
  if (!socketPath.startsWith("/")) {
    throw new FzError("invalid_request", `FIREZONE_SOCKET must be an absolute path, got '${socketPath}'`);
  }
  const envToken = env.FIREZONE_TOKEN ?? null;
  delete env.FIREZONE_TOKEN;
  return {
    socketPath,
    defaultSocket: socketPath === DEFAULTS.socketPath,
    group: env.FIREZONE_GROUP || DEFAULTS.group,
    stateDir: env.FIREZONE_STATE_DIR || DEFAULTS.stateDir,
    logDir: env.FIREZONE_LOG_DIR || DEFAULTS.logDir,
    tunName: env.FIREZONE_TUN_NAME || DEFAULTS.tunName,
    apiUrl: env.FIREZONE_API_URL || DEFAULTS.apiUrl,
    tokenFile: env.FIREZONE_TOKEN_FILE || DEFAULTS.tokenFile,
    envToken: envToken === "" ? null : envToken,
    logLevel: level as DaemonConfig["logLevel"],
  };
}
