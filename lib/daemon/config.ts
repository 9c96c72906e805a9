// The daemon's settings, read once at start: firezoned.conf, then the environment on top (tests
// override every path). There is no built-in portal: without a URL the daemon runs `not_configured`.
import { X509Certificate } from "node:crypto";
import type { DnsControlMode } from "../dns/index.ts";
import { parsePortalUrl } from "../portal/index.ts";
import { FzError } from "../types/index.ts";
import { type ConfigFileResult, readConfigFile, readRootFile } from "./config_file.ts";
import { CONFIG_KEYS, type FileSettings, parseBool } from "./config_keys.ts";
import { DEFAULT_INTERNET_RESOURCE } from "./settings.ts";

/** Where the session's portal is, or why there is none (the message names the file, key and fix). */
export type PortalConfig =
  | {
      configured: true;
      /** The base URL as configured, already checked by parsePortalUrl. */
      url: string;
      allowInsecure: boolean;
      /** PEM text of the extra CAs from ca_file, or null for the system's only. */
      ca: string | null;
    }
  | { configured: false; message: string };

export interface DaemonConfig {
  socketPath: string;
  /** True when socketPath is the packaged default, whose directory the daemon owns outright. */
  defaultSocket: boolean;
  group: string;
  stateDir: string;
  logDir: string;
  tunName: string;
  /** The configuration file that was read (or would have been). */
  configFile: string;
  portal: PortalConfig;
  /** Set when the configuration file could not be used; the daemon logs it and runs not_configured. */
  configProblem: string | null;
  /** What the file itself sets (empty when it is missing or not usable), for `settings get`. */
  fileSettings: FileSettings;
  tokenFile: string;
  /** FIREZONE_TOKEN's value: the token, or the path of a file holding it (Docker secrets). */
  envToken: string | null;
  /** $CREDENTIALS_DIRECTORY (systemd LoadCredential*=), where `firezone-token` may be. */
  credentialsDir: string | null;
  logLevel: "debug" | "info" | "warn" | "error";
  /** The Internet Resource switch until a user chooses (their choice lives in the state dir). */
  internetResource: { enabled: boolean; allowLan: boolean };
  /** dns_control; undefined (unset or `auto`) means detect at each start. */
  dnsControl: DnsControlMode | undefined;
  /** default_scope: the scope of an interactive sign-in that names none. */
  defaultScope: "user" | "system";
  /** read_group: the read-only tier's group; `firezone-read` (if it exists) when unset. */
  readGroup: string;
}

export const DEFAULTS = {
  socketPath: "/run/firezoned/ipc.sock",
  group: "firezone",
  stateDir: "/var/lib/firezoned",
  logDir: "/var/log/firezoned",
  tunName: "tun-firezone",
  configFile: "/etc/firezoned/firezoned.conf",
  tokenFile: "/etc/firezoned/token",
  readGroup: "firezone-read",
  /** Interactive sessions reach the tunnel only from the owner's processes (docs/security.md). */
  defaultScope: "user",
} as const;

const LEVELS = ["debug", "info", "warn", "error"] as const;
const MAX_CA_BYTES = 1024 * 1024;

/** Reads ca_file: root's, not writable by others, one or more PEM certificates. Throws with the fix. */
export function loadCaFile(path: string): string {
  const text = readRootFile(path, MAX_CA_BYTES, "644");
  if (text === "missing")
    throw new Error(`ca_file ${path} does not exist; copy the portal's CA certificate (PEM) there`);
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0)
    throw new Error(`ca_file ${path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  for (const [i, pem] of blocks.entries()) {
    try {
      new X509Certificate(pem);
    } catch (err) {
      throw new Error(`ca_file ${path}: certificate ${i + 1} does not parse (${(err as Error).message})`);
    }
  }
  return blocks.join("\n");
}

/**
 * Reads FIREZONE_* variables and the configuration file. Deletes FIREZONE_TOKEN from `env` so
 * children (wireguard-go) never inherit it; the process's own /proc/<pid>/environ keeps it (root only).
 */
export function loadDaemonConfig(
  env: Record<string, string | undefined>,
  /** The file's contents; `settings set` checks a new text through here before writing it. */
  readFile: (path: string) => ConfigFileResult = readConfigFile,
): DaemonConfig {
  const socketPath = env.FIREZONE_SOCKET || DEFAULTS.socketPath;
  if (!socketPath.startsWith("/")) {
    throw new FzError("invalid_request", `FIREZONE_SOCKET must be an absolute path, got '${socketPath}'`);
  }
  const configFile = env.FIREZONE_CONFIG || DEFAULTS.configFile;
  if (!configFile.startsWith("/")) {
    throw new FzError("invalid_request", `FIREZONE_CONFIG must be an absolute path, got '${configFile}'`);
  }
  const file = readFile(configFile);
  const settings = file.status === "ok" ? file.settings : {};
  const level = env.FIREZONE_LOG_LEVEL ?? settings.log_level ?? "info";
  if (!(LEVELS as readonly string[]).includes(level)) {
    throw new FzError("invalid_request", `FIREZONE_LOG_LEVEL='${level}' is not one of ${LEVELS.join(", ")}`);
  }
  const envToken = env.FIREZONE_TOKEN ?? null;
  delete env.FIREZONE_TOKEN;
  const configProblem = file.status === "invalid" ? file.message : null;
  return {
    socketPath,
    defaultSocket: socketPath === DEFAULTS.socketPath,
    group: env.FIREZONE_GROUP || DEFAULTS.group,
    stateDir: env.FIREZONE_STATE_DIR || DEFAULTS.stateDir,
    logDir: env.FIREZONE_LOG_DIR || DEFAULTS.logDir,
    tunName: env.FIREZONE_TUN_NAME || DEFAULTS.tunName,
    configFile,
    portal: configProblem
      ? { configured: false, message: `The configuration is not usable: ${configProblem}` }
      : portalConfig(env, file.status === "ok" ? file : null, configFile),
    configProblem,
    fileSettings: settings,
    tokenFile: env.FIREZONE_TOKEN_FILE || DEFAULTS.tokenFile,
    envToken: envToken === "" ? null : envToken,
    credentialsDir: env.CREDENTIALS_DIRECTORY || null,
    logLevel: level as DaemonConfig["logLevel"],
    internetResource: {
      enabled: settings.internet_resource ?? DEFAULT_INTERNET_RESOURCE.enabled,
      allowLan: settings.allow_lan ?? DEFAULT_INTERNET_RESOURCE.allowLan,
    },
    dnsControl: dnsControlOf(env.FIREZONE_DNS_CONTROL, settings.dns_control),
    defaultScope: scopeOf(env.FIREZONE_DEFAULT_SCOPE, settings.default_scope),
    readGroup: env.FIREZONE_READ_GROUP || settings.read_group || DEFAULTS.readGroup,
  };
}

/** FIREZONE_DNS_CONTROL over the file's dns_control; `auto` or neither: detect at each start. */
function dnsControlOf(envValue: string | undefined, fileValue: DnsControlMode | "auto" | undefined) {
  let value = fileValue;
  if (envValue !== undefined && envValue !== "") {
    const parsed = CONFIG_KEYS.dns_control.parse(envValue);
    if (!parsed.ok) throw new FzError("invalid_request", `FIREZONE_DNS_CONTROL ${parsed.message}`);
    value = parsed.value;
  }
  return value === "auto" ? undefined : value;
}

/** FIREZONE_DEFAULT_SCOPE over the file's default_scope, else `user`. */
function scopeOf(envValue: string | undefined, fileValue: "user" | "system" | undefined): "user" | "system" {
  if (envValue !== undefined && envValue !== "") {
    const parsed = CONFIG_KEYS.default_scope.parse(envValue);
    if (!parsed.ok) throw new FzError("invalid_request", `FIREZONE_DEFAULT_SCOPE ${parsed.message}`);
    return parsed.value;
  }
  return fileValue ?? DEFAULTS.defaultScope;
}

function portalConfig(
  env: Record<string, string | undefined>,
  file: Extract<ReturnType<typeof readConfigFile>, { status: "ok" }> | null,
  path: string,
): PortalConfig {
  const settings = file?.settings ?? {};
  const at = (key: "portal_url" | "allow_insecure_portal" | "ca_file") =>
    `${key} in ${path} line ${file?.lineOf[key] ?? "?"}`;

  let allowInsecure = settings.allow_insecure_portal ?? false;
  const insecureEnv = env.FIREZONE_ALLOW_INSECURE_PORTAL;
  if (insecureEnv !== undefined && insecureEnv !== "") {
    const b = parseBool(insecureEnv);
    if (!b.ok)
      return { configured: false, message: `FIREZONE_ALLOW_INSECURE_PORTAL ${b.message} (use 1 or 0)` };
    allowInsecure = b.value;
  }

  const fromEnv = Boolean(env.FIREZONE_API_URL);
  const url = env.FIREZONE_API_URL || settings.portal_url;
  if (!url) {
    return {
      configured: false,
      message:
        "No portal URL: run sudo firezonectl settings set portal_url wss://portal.example.com " +
        `(or set portal_url in ${path}, or install with sudo sh install.sh --api-url wss://...; ` +
        "see docs/configuration.md)",
    };
  }
  try {
    parsePortalUrl(url, { allowInsecure });
  } catch (err) {
    return {
      configured: false,
      message: `${fromEnv ? "FIREZONE_API_URL" : at("portal_url")}: ${(err as Error).message}`,
    };
  }
  let ca: string | null = null;
  if (settings.ca_file) {
    try {
      ca = loadCaFile(settings.ca_file);
    } catch (err) {
      return { configured: false, message: `${at("ca_file")}: ${(err as Error).message}` };
    }
  }
  return { configured: true, url, allowInsecure, ca };
}
