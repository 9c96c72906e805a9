// Where the GUI finds the portal, the account and its sockets. Environment variables override the
// per-user file ~/.config/firezone/gui.json, which overrides the defaults. There is no default
// portal: without an authUrl the sign-in page comes from the daemon's configured portal.
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import * as v from "valibot";
import { DEFAULT_SOCKET } from "../ipc/index.ts";
import type { LogLevel } from "../util/index.ts";

export interface GuiSettings {
  /**
   * Base URL of the portal's sign-in pages, from FIREZONE_AUTH_URL or "authUrl"; null means "the
   * daemon's portal" (its status carries `portalUrl`).
   */
  authUrl: string | null;
  /** A plaintext http:// authUrl was explicitly allowed (labs and the devstack only). */
  allowInsecure: boolean;
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
  allowInsecurePortal: v.optional(v.boolean("allowInsecurePortal must be true or false")),
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

/** An https URL, or http with the opt-in; anything else is dropped with a warning that says why. */
function checkAuthUrl(
  url: string | null,
  source: string,
  allowInsecure: boolean,
  warnings: string[],
): string | null {
  if (!url) return null;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    warnings.push(`ignoring ${source}: '${url.slice(0, 200)}' is not a URL`);
    return null;
  }
  if (u.protocol === "https:") return url;
  if (u.protocol === "http:" && allowInsecure) return url;
  warnings.push(
    u.protocol === "http:"
      ? `ignoring ${source}: '${url.slice(0, 200)}' is plaintext http, which would expose the sign-in. Use https://, ` +
          'or for a lab set "allowInsecurePortal": true (or FIREZONE_ALLOW_INSECURE_PORTAL=1)'
      : `ignoring ${source}: '${url.slice(0, 200)}' is not an https:// URL`,
  );
  return null;
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

  const insecureEnv = env.FIREZONE_ALLOW_INSECURE_PORTAL;
  const allowInsecure = insecureEnv ? insecureEnv === "1" : (file.allowInsecurePortal ?? false);
  const source = env.FIREZONE_AUTH_URL ? "FIREZONE_AUTH_URL" : `"authUrl" in ${configFile}`;
  const authUrl = checkAuthUrl(
    env.FIREZONE_AUTH_URL || file.authUrl || null,
    source,
    allowInsecure,
    warnings,
  );
  const level = env.FIREZONE_LOG_LEVEL ?? "info";
  const runtimeDir = join(runtime, "firezone");
  return {
    ok: true,
    warnings,
    settings: {
      authUrl,
      allowInsecure,
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
