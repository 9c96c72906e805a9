// The running configuration and its changes: `firezonectl settings` reads and writes firezoned.conf
// through here, and SIGHUP re-reads it. Both end in reloadConfiguration(), which applies what can be
// applied live (log level, the Internet Resource defaults), reconnects for a new portal, and names
// the keys that wait for a restart.
import type { Setting } from "../ipc/index.ts";
import { FzError } from "../types/index.ts";
import type { Logger, LogLevel } from "../util/index.ts";
import { type DaemonConfig, loadDaemonConfig, type PortalConfig } from "./config.ts";
import { editConfigText, writeConfigAtomically } from "./config_edit.ts";
import { checkConfigText, MAX_CONFIG_BYTES, readRootFile } from "./config_file.ts";
import { CONFIG_KEYS, type ConfigKey, type FileSettings, isConfigKey } from "./config_keys.ts";
import type { InternetResourcePrefs } from "./settings.ts";

/** What a reload changes; the portal-backed session and the settings store provide it. */
export interface ReloadTargets {
  setLogLevel(level: LogLevel): void;
  setPortal(portal: PortalConfig): Promise<void>;
  /** New Internet Resource defaults; returns what applies now (a user's choice wins). */
  setInternetDefaults(defaults: InternetResourcePrefs): Promise<void>;
}

export interface ConfigControlOptions {
  /** The environment the daemon started with (FIREZONE_* overrides still win after a reload). */
  env: Record<string, string | undefined>;
  initial: DaemonConfig;
  targets: ReloadTargets;
  logger: Logger;
}

export interface ReloadReport {
  ok: boolean;
  /** Keys whose value in use changed. */
  changed: ConfigKey[];
  /** Keys whose new value waits for a restart. */
  pending: ConfigKey[];
  message: string;
}

const PORTAL_KEYS: readonly ConfigKey[] = ["portal_url", "allow_insecure_portal", "ca_file"];

function show(value: unknown): string | null {
  return value === undefined || value === null ? null : String(value);
}

export class ConfigControl {
  /** The configuration in force: the last one loaded, except restart-only keys, kept from the start. */
  #applied: DaemonConfig;
  readonly #startup: DaemonConfig;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: ConfigControlOptions) {
    this.#applied = opts.initial;
    this.#startup = opts.initial;
  }

  /** The configuration in use: the start-up one with every reload and `settings set` applied. */
  get applied(): DaemonConfig {
    return this.#applied;
  }

  get file(): string {
    return this.#applied.configFile;
  }

  /**
   * Re-reads firezoned.conf and applies it. A file that cannot be used is not applied at all
   * (the running configuration stays, as with `nginx -s reload`), and the report says why.
   * Never throws; reloads run one at a time.
   */
  reloadConfiguration(reason: string): Promise<ReloadReport> {
    const run = this.#queue.then(() => this.#reload(reason));
    this.#queue = run.catch(() => {});
    return run.catch((err: unknown) => {
      const message = `the configuration was not reloaded: ${(err as Error).message}`;
      this.opts.logger.error(message, { reason });
      return { ok: false, changed: [], pending: [], message };
    });
  }

  async #reload(reason: string): Promise<ReloadReport> {
    // A copy: loadDaemonConfig deletes FIREZONE_TOKEN from what it is given.
    const next = loadDaemonConfig({ ...this.opts.env });
    if (next.configProblem) {
      const message = `${next.configProblem}. The configuration in use is unchanged; fix the file and reload again`;
      this.opts.logger.error("the configuration file was not reloaded", {
        reason,
        problem: next.configProblem,
      });
      return { ok: false, changed: [], pending: [], message };
    }
    const before = this.#applied;
    const changed: ConfigKey[] = [];
    const pending: ConfigKey[] = [];
    for (const key of Object.keys(CONFIG_KEYS) as ConfigKey[]) {
      if (this.#effective(key, next) === this.#effective(key, before)) continue;
      if (CONFIG_KEYS[key].applies === "restart") {
        if (this.#effective(key, next) !== this.#effective(key, this.#startup)) pending.push(key);
      } else changed.push(key);
    }
    // Restart-only keys keep what the daemon started with; the file's text is shown apart.
    this.#applied = { ...next, dnsControl: this.#startup.dnsControl };
    const { targets } = this.opts;
    if (next.logLevel !== before.logLevel) targets.setLogLevel(next.logLevel);
    if (
      next.internetResource.enabled !== before.internetResource.enabled ||
      next.internetResource.allowLan !== before.internetResource.allowLan
    )
      await targets.setInternetDefaults(next.internetResource);
    if (JSON.stringify(next.portal) !== JSON.stringify(before.portal)) await targets.setPortal(next.portal);
    const parts = [changed.length ? `applied ${changed.join(", ")}` : "nothing to apply"];
    if (pending.length)
      parts.push(`${pending.join(", ")} take effect at the next start: sudo systemctl restart firezoned`);
    const message = parts.join("; ");
    this.opts.logger.info("configuration reloaded", { reason, changed, pending });
    return { ok: true, changed, pending, message };
  }

  /** The value a config puts in force for `key`: the environment, else the file, else the default. */
  #effective(key: ConfigKey, config: DaemonConfig): string | null {
    const row = CONFIG_KEYS[key];
    const envName = "env" in row ? row.env : undefined;
    const fromEnv = envName ? this.opts.env[envName] : undefined;
    if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
    return show(config.fileSettings[key]) ?? row.fallback;
  }

  /** Every key (or one) as the file has it and as the daemon uses it. */
  get(key?: string): { file: string; settings: Setting[] } {
    if (key !== undefined && !isConfigKey(key)) throw unknownKey(key);
    const keys = key ? [key as ConfigKey] : (Object.keys(CONFIG_KEYS) as ConfigKey[]);
    let file: FileSettings = {};
    try {
      const text = readRootFile(this.file, MAX_CONFIG_BYTES, "644");
      const checked = text === "missing" ? null : checkConfigText(text, this.file);
      if (checked?.status === "ok") file = checked.settings;
    } catch {
      // The file's own problem shows in status (not_configured); the values in use are still known.
    }
    return { file: this.file, settings: keys.map((k) => this.#describe(k, file)) };
  }

  #describe(key: ConfigKey, file: FileSettings): Setting {
    const row = CONFIG_KEYS[key];
    const envName = "env" in row ? row.env : undefined;
    const fromEnv = envName !== undefined && Boolean(this.opts.env[envName]);
    const inFile = show(file[key]);
    const effective =
      row.applies === "restart" ? this.#effective(key, this.#startup) : this.#effective(key, this.#applied);
    let note = row.note;
    if (fromEnv) note = `${envName} is set in firezoned's environment and wins over the file`;
    else if (row.applies === "restart" && (inFile ?? row.fallback) !== effective)
      note = `changed in the file; takes effect at the next start (${row.note})`;
    return {
      key,
      value: inFile,
      effective,
      source: fromEnv ? "environment" : inFile !== null ? "file" : "default",
      description: row.what,
      applies: row.applies,
      note,
    };
  }

  /**
   * Checks `value` with the key table, writes it into firezoned.conf (keeping every other line),
   * then reloads. Nothing is written when the value, or the file it would make, is not usable.
   */
  set(key: string, value: string | null): Promise<{ file: string; setting: Setting; message: string }> {
    const run = this.#queue.then(() => this.#set(key, value));
    this.#queue = run.catch(() => {});
    return run;
  }

  async #set(
    key: string,
    value: string | null,
  ): Promise<{ file: string; setting: Setting; message: string }> {
    if (!isConfigKey(key)) throw unknownKey(key);
    const row = CONFIG_KEYS[key];
    let wanted: string | null = null;
    // One line of the file per key: a line break (or any control character) could add another key.
    if (value !== null && /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/.test(value))
      throw new FzError(
        "invalid_request",
        `the value for ${key} holds a line break or another control character; nothing was changed`,
      );
    if (value !== null) {
      const parsed = row.parse(value);
      if (!parsed.ok)
        throw new FzError(
          "invalid_request",
          `${key} ${parsed.message} (${key}: ${row.what}). Nothing was changed.`,
        );
      wanted = show(parsed.value);
    }
    const path = this.file;
    let text: string;
    try {
      const read = readRootFile(path, MAX_CONFIG_BYTES, "644");
      text = read === "missing" ? "" : read;
    } catch (err) {
      throw new FzError("invalid_request", `${(err as Error).message}. Nothing was changed.`);
    }
    const nextText = editConfigText(text, key, value);
    const checked = checkConfigText(nextText, path);
    if (checked.status !== "ok") {
      const why = checked.status === "invalid" ? checked.message : "unreadable";
      throw new FzError(
        "invalid_request",
        `${path} cannot be changed as it is: ${why}. Fix that line by hand first; nothing was changed.`,
      );
    }
    if (show(checked.settings[key]) !== wanted)
      throw new FzError(
        "invalid_request",
        `the value for ${key} would not read back as given; nothing was changed`,
      );
    if (PORTAL_KEYS.includes(key)) this.#checkPortal(checked, path);
    if (nextText !== text) {
      try {
        writeConfigAtomically(path, nextText);
      } catch (err) {
        throw new FzError(
          "internal",
          `firezoned could not write ${path} (${(err as Error).message}); nothing was changed`,
        );
      }
    }
    const report = await this.#reload(`settings set ${key}`);
    const setting = this.get(key).settings[0]!;
    const what = value === null ? `removed ${key} from ${path}` : `wrote ${key} = ${value} to ${path}`;
    let outcome: string;
    if (setting.source === "environment") outcome = `it does not apply: ${setting.note}`;
    else if (!report.ok) outcome = report.message;
    else if (row.applies === "restart")
      outcome = report.pending.includes(key)
        ? `it takes effect at the next start (sudo systemctl restart firezoned): ${row.note}`
        : "it is already in use";
    else if (!report.changed.includes(key)) outcome = "it was already in use";
    else outcome = row.applies === "live" ? "applied now" : `applied: ${row.note}`;
    return { file: path, setting, message: `${what}; ${outcome}` };
  }

  /** A portal setting must leave a portal the daemon can use (unless the URL itself is removed). */
  #checkPortal(checked: Extract<ReturnType<typeof checkConfigText>, { status: "ok" }>, path: string): void {
    const next = loadDaemonConfig({ ...this.opts.env, FIREZONE_CONFIG: path }, () => checked);
    if (next.portal.configured || next.portal.message.startsWith("No portal URL")) return;
    throw new FzError("invalid_request", `${next.portal.message}. Nothing was changed.`);
  }
}

function unknownKey(key: string): FzError {
  return new FzError(
    "invalid_request",
    `unknown setting '${key.slice(0, 64)}'. Known keys: ${Object.keys(CONFIG_KEYS).join(", ")} (see docs/configuration.md)`,
  );
}
