// Choices a user makes through firezonectl or the tray that must outlive a restart (today: the
// Internet Resource switch and its allow-LAN option), kept in the daemon's state dir. Only what a
// user set is stored; everything else follows the configured defaults, so an administrator's new
// default reaches every machine whose user never chose.
import { closeSync, constants, fstatSync, openSync, readSync, renameSync } from "node:fs";
import { open, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import * as v from "valibot";
import { FzError } from "../types/index.ts";
import type { Logger } from "../util/index.ts";

export interface InternetResourcePrefs {
  enabled: boolean;
  allowLan: boolean;
}

/**
 * Until an administrator sets another default (or the user chooses): off, so signing in never
 * changes where a machine's other traffic goes without someone asking; and when switched on,
 * LAN traffic goes through the tunnel too, as with other full-tunnel clients' defaults.
 */
export const DEFAULT_INTERNET_RESOURCE: InternetResourcePrefs = { enabled: false, allowLan: false };

/** The file holds a few hundred bytes; anything larger is not ours. */
const MAX_BYTES = 64 * 1024;
const FILE_NAME = "settings.json";

const FileSchema = v.looseObject({
  version: v.literal(1),
  internet_resource: v.optional(
    v.strictObject({ enabled: v.optional(v.boolean()), allow_lan: v.optional(v.boolean()) }),
  ),
});
type SettingsFile = v.InferOutput<typeof FileSchema>;

export interface SettingsStoreOptions {
  stateDir: string;
  /** What applies until a user chooses: the configuration's defaults. */
  defaults: InternetResourcePrefs;
  logger: Logger;
}

export class SettingsStore {
  readonly file: string;
  #stored: SettingsFile;
  #writes: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly opts: SettingsStoreOptions,
    stored: SettingsFile,
  ) {
    this.file = join(opts.stateDir, FILE_NAME);
    this.#stored = stored;
  }

  /**
   * Reads the file once at start. A file that cannot be used is set aside as `settings.json.bad`
   * (nothing is lost, and the next save does not overwrite it) and the defaults apply.
   */
  static load(opts: SettingsStoreOptions): SettingsStore {
    const file = join(opts.stateDir, FILE_NAME);
    const empty: SettingsFile = { version: 1 };
    let text: string | null;
    try {
      text = readBounded(file);
    } catch (err) {
      opts.logger.warn("cannot read the settings file; using the defaults", {
        file,
        error: (err as Error).message,
      });
      return new SettingsStore(opts, empty);
    }
    if (text === null) return new SettingsStore(opts, empty);
    let problem: string;
    try {
      const parsed = v.safeParse(FileSchema, JSON.parse(text));
      if (parsed.success) return new SettingsStore(opts, parsed.output);
      const issue = parsed.issues[0];
      const where = issue?.path?.map((p) => String(p.key)).join(".");
      problem = `${where ? `${where}: ` : ""}${issue?.message ?? "invalid"}`;
    } catch (err) {
      problem = (err as Error).message;
    }
    try {
      renameSync(file, `${file}.bad`);
    } catch {}
    opts.logger.warn(
      `the settings file is not valid (${problem}); it was kept as ${file}.bad and the defaults apply. ` +
        "Choose again with firezonectl internet-resource, or remove the .bad file once you have looked at it.",
      { file },
    );
    return new SettingsStore(opts, empty);
  }

  /** A reloaded configuration's defaults: they apply at once wherever the user has not chosen. */
  setDefaults(defaults: InternetResourcePrefs): void {
    this.opts.defaults = { ...defaults };
  }

  /** The Internet Resource switch as it applies now: the user's choice, else the default. */
  internetResource(): InternetResourcePrefs {
    const s = this.#stored.internet_resource ?? {};
    return {
      enabled: s.enabled ?? this.opts.defaults.enabled,
      allowLan: s.allow_lan ?? this.opts.defaults.allowLan,
    };
  }

  /**
   * Records a choice and writes it (write, fsync, rename) before it takes effect, so a choice the
   * daemon reported as made is one it still has after a crash. On failure nothing changes and the
   * error says which file could not be written.
   */
  async setInternetResource(patch: Partial<InternetResourcePrefs>): Promise<InternetResourcePrefs> {
    const run = this.#writes.then(async () => {
      const current = this.#stored.internet_resource ?? {};
      const next: SettingsFile = {
        ...this.#stored,
        version: 1,
        internet_resource: {
          ...current,
          ...(patch.enabled !== undefined ? { enabled: patch.enabled } : {}),
          ...(patch.allowLan !== undefined ? { allow_lan: patch.allowLan } : {}),
        },
      };
      try {
        await writeAtomically(this.file, `${JSON.stringify(next, null, 2)}\n`);
      } catch (err) {
        throw new FzError(
          "internal",
          `firezoned could not save the setting to ${this.file} (${(err as Error).message}); nothing was changed. ` +
            "Check that the state directory exists, is root's and the disk is not full.",
        );
      }
      this.#stored = next;
      return this.internetResource();
    });
    this.#writes = run.catch(() => {});
    return run;
  }
}

/** The file's text, or null when there is none; refuses symlinks, non-files and oversized files (libuv opens close-on-exec). */
function readBounded(file: string): string | null {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    if ((err as NodeJS.ErrnoException).code === "ELOOP") throw new Error("it is a symbolic link");
    throw err;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new Error("it is not a regular file");
    if (st.size > MAX_BYTES) throw new Error(`it is ${st.size} bytes, more than ${MAX_BYTES}`);
    const buf = Buffer.alloc(Math.min(st.size + 1, MAX_BYTES + 1));
    let n = 0;
    for (;;) {
      const r = readSync(fd, buf, n, buf.length - n, null);
      if (r === 0) break;
      n += r;
      if (n > MAX_BYTES) throw new Error(`it is more than ${MAX_BYTES} bytes`);
      if (n === buf.length) break;
    }
    return new TextDecoder("utf-8", { fatal: true }).decode(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
}

async function writeAtomically(file: string, text: string): Promise<void> {
  const tmp = `${file}.tmp`;
  const handle = await open(tmp, "w", 0o600);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
}
