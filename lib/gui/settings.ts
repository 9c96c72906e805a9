// Where the GUI finds the portal, the account and its sockets. Environment variables override the
// per-user file ~/.config/firezone/gui.json, which overrides the defaults.
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import * as v from "valibot";
import { DEFAULT_SOCKET } from "../ipc/index.ts";
import type { LogLevel } from "../util/index.ts";

/** The devstack portal's address, the same default as the daemon's FIREZONE_API_URL. */
export const DEFAULT_AUTH_URL = "http://127.0.0.1:8080";

export interface GuiSettings {
  /** Base URL of the portal's sign-in pages. */
  authUrl: string;
  /** Account slug; without one, Sign In explains where to set it. */
  account: string | null;
  /** firezoned's IPC socket. */
  daemonSocket: string;
  /** `$XDG_RUNTIME_DIR/firezone`, 0700, holding gui.sock. */
  runtimeDir: string;
  guiSocket: string;
  /** The settings file, read at start. */
  configFile: string;
  /** Non-secret memory of the last sign-in (account slug, actor name). */
  stateDir: string;
  logLevel: LogLevel;
}

const FileSchema = v.object({
  authUrl: v.optional(v.pipe(v.string(), v.url("authUrl must be a URL such as https://app.firezone.dev"))),
  accountSlug: v.optional(v.pipe(v.string(), v.regex(/^[\w.-]{1,100}$/, "accountSlug must be a plain slug"))),
});

const LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];

export type SettingsResult =
  | { ok: true; settings: GuiSettings; warnings: string[] }
  | { ok: false; error: string };

function readFile(path: string, warnings: string[]): v.InferOutput<typeof FileSchema> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as { code?: string }).code !== "ENOENT")
      warnings.push(`cannot read ${path}: ${(err as Error).message}`);
    return {};
  }
  try {
    const parsed = v.safeParse(FileSchema, JSON.parse(text));
    if (parsed.success) return parsed.output;
    warnings.push(`ignoring ${path}: ${parsed.issues.map((i) => i.message).join("; ")}`);
  } catch (err) {
    warnings.push(`ignoring ${path}: not valid JSON (${(err as Error).message})`);
  }
  return {};
}

/** Reads the settings for the user whose environment this is. */
export function loadSettings(env: Record<string, string | undefined>): SettingsResult {
  const warnings: string[] = [];
  const home = env.HOME || homedir();
  const runtime = env.XDG_RUNTIME_DIR;
  if (!runtime?.startsWith("/")) {
    return {
      ok: false,
      error:
        "XDG_RUNTIME_DIR is not set, so there is no private place for firezone-gui's socket. " +
        "Start firezone-gui from your desktop session (it sets XDG_RUNTIME_DIR through systemd-logind).",
    };
  }
  const configFile = join(env.XDG_CONFIG_HOME || join(home, ".config"), "firezone", "gui.json");
  const file = readFile(configFile, warnings);

  let authUrl = env.FIREZONE_AUTH_URL || file.authUrl || DEFAULT_AUTH_URL;
  try {
    const u = new URL(authUrl);
    if (u.protocol !== "https:" && u.protocol !== "http:") throw new Error("not http(s)");
  } catch {
    warnings.push(`FIREZONE_AUTH_URL '${authUrl}' is not an http(s) URL; using ${DEFAULT_AUTH_URL}`);
    authUrl = DEFAULT_AUTH_URL;
  }
  const level = env.FIREZONE_LOG_LEVEL ?? "info";
  const runtimeDir = join(runtime, "firezone");
  return {
    ok: true,
    warnings,
    settings: {
      authUrl,
      account: env.FIREZONE_ACCOUNT || file.accountSlug || null,
      daemonSocket: env.FIREZONE_SOCKET || DEFAULT_SOCKET,
      runtimeDir,
      guiSocket: join(runtimeDir, "gui.sock"),
      configFile,
      stateDir: join(env.XDG_STATE_HOME || join(home, ".local", "state"), "firezone"),
      logLevel: (LEVELS as readonly string[]).includes(level) ? (level as LogLevel) : "info",
    },
  };
}
