// Reads firezoned.conf (and the files it names) safely: the file is opened once, and ownership,
// mode, type and size are checked with fstat on that open descriptor, so what is checked is what
// is read. A file that others could change is refused: its portal URL and CA decide who this host
// trusts.
import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";
import { parseKeyValue } from "../util/index.ts";
import { CONFIG_KEYS, type ConfigKey, type FileSettings, isConfigKey } from "./config_keys.ts";

export type ConfigFileResult =
  | { status: "missing" }
  | { status: "ok"; settings: FileSettings; lineOf: Partial<Record<ConfigKey, number>> }
  | { status: "invalid"; message: string };

/** Not writable by group or others, as sshd's StrictModes asks of its files. */
const UNSAFE_BITS = 0o022;

/**
 * Opens a root-owned file no one else may write and returns its text. Throws an Error naming the
 * path and the fix; `missing` (ENOENT) is returned instead of thrown.
 */
export function readRootFile(path: string, maxBytes: number, mode: string): string | "missing" {
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO planted at the path must not hang the daemon's start.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    if ((err as { code?: string }).code === "ENOENT") return "missing";
    throw new Error(`cannot open ${path}: ${(err as Error).message}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new Error(`${path} is not a regular file; replace it with one`);
    if (st.uid !== 0 || (st.mode & UNSAFE_BITS) !== 0) {
      const has = (st.mode & 0o777).toString(8).padStart(3, "0");
      throw new Error(
        `refusing ${path}: it is owned by uid ${st.uid} with mode ${has}, so someone other than root ` +
          `could change it. Fix: sudo chown root:root ${path} && sudo chmod ${mode} ${path}`,
      );
    }
    if (st.size > maxBytes)
      throw new Error(
        `${path} is ${st.size} bytes, more than the ${maxBytes} allowed; is it the right file?`,
      );
    const buf = Buffer.alloc(maxBytes + 1);
    let length = 0;
    for (;;) {
      const n = readSync(fd, buf, length, buf.length - length, null);
      if (n === 0) break;
      length += n;
      if (length > maxBytes) throw new Error(`${path} is more than ${maxBytes} bytes; is it the right file?`);
    }
    const bytes = buf.subarray(0, length);
    const text = new TextDecoder("utf-8", { fatal: false }).decode(bytes);
    if (text.includes("\uFFFD") || bytes.includes(0)) throw new Error(`${path} is not UTF-8 text`);
    return text;
  } finally {
    closeSync(fd);
  }
}

export const MAX_CONFIG_BYTES = 64 * 1024;

/** Reads and checks firezoned.conf against the key table. Never throws. */
export function readConfigFile(path: string): ConfigFileResult {
  let text: string | "missing";
  try {
    text = readRootFile(path, MAX_CONFIG_BYTES, "644");
  } catch (err) {
    return { status: "invalid", message: (err as Error).message };
  }
  if (text === "missing") return { status: "missing" };
  return checkConfigText(text, path);
}

/** Checks the text of firezoned.conf against the key table; `path` only names it in messages. */
export function checkConfigText(text: string, path: string): ConfigFileResult {
  const parsed = parseKeyValue(text);
  if (!parsed.ok) return { status: "invalid", message: `${path} line ${parsed.line}: ${parsed.message}` };
  const settings: Record<string, unknown> = {};
  const lineOf: Partial<Record<ConfigKey, number>> = {};
  for (const { key, value, line } of parsed.entries) {
    if (!isConfigKey(key)) {
      return {
        status: "invalid",
        message:
          `${path} line ${line}: unknown key '${key}'. Known keys: ${Object.keys(CONFIG_KEYS).join(", ")} ` +
          "(see docs/configuration.md); fix the spelling or remove the line",
      };
    }
    const result = CONFIG_KEYS[key].parse(value);
    if (!result.ok) {
      return {
        status: "invalid",
        message: `${path} line ${line}: ${key} ${result.message} (${key}: ${CONFIG_KEYS[key].what})`,
      };
    }
    settings[key] = result.value;
    lineOf[key] = line;
  }
  return { status: "ok", settings: settings as FileSettings, lineOf };
}
