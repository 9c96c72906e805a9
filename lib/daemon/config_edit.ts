// Changes one key of firezoned.conf and keeps everything else as the administrator wrote it:
// comments, blank lines, the other keys and their order. The new text is written beside the file
// and renamed over it, so whoever reads the file (a restart, a SIGHUP) sees the old text or the
// new one, never half of one.
import {
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  fstatSync,
  fsyncSync,
  mkdirSync,
  openSync,
  realpathSync,
  renameSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";

/** Whether a content line (not blank, not a comment) sets `key`. */
function setsKey(line: string, key: string): boolean {
  const content = line.trim();
  if (content === "" || content.startsWith("#")) return false;
  const eq = content.indexOf("=");
  return eq !== -1 && content.slice(0, eq).trim() === key;
}

/**
 * The line that gives `key` this value. A value that white space or quotes around it would change
 * (the parser trims and removes one pair of quotes) is written inside quotes, so it reads back as given.
 */
function lineFor(key: string, value: string): string {
  const needsQuotes =
    value !== value.trim() || (value.length >= 2 && value.startsWith('"') && value.endsWith('"'));
  return `${key} = ${needsQuotes ? `"${value}"` : value}`;
}

/**
 * The file's text with `key` set to `value` (or its line removed, for null). The key's line is
 * replaced where it is; a new key is appended at the end.
 */
export function editConfigText(text: string, key: string, value: string | null): string {
  const lines = text === "" ? [] : text.replace(/\n$/, "").split("\n");
  const at = lines.findIndex((line) => setsKey(line, key));
  if (value === null) {
    if (at !== -1) lines.splice(at, 1);
  } else if (at !== -1) lines[at] = lineFor(key, value);
  else lines.push(lineFor(key, value));
  return lines.length === 0 ? "" : `${lines.join("\n")}\n`;
}

/**
 * Replaces the file with `text`, as root:root with the old file's permission bits (0644 for a new
 * one): written to a temporary file in the same directory, flushed, renamed over the old one, and
 * the directory flushed. A symlink at `path` is followed, so its target is what changes.
 */
export function writeConfigAtomically(path: string, text: string): void {
  let target = path;
  let mode = 0o644;
  try {
    target = realpathSync(path);
    mode = fstatMode(target);
  } catch (err) {
    if ((err as { code?: string }).code !== "ENOENT") throw err;
    // No file yet: its directory is root's alone, as install.sh makes it.
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  }
  const dir = dirname(target);
  const temp = join(dir, `.${basename(target)}.${process.pid}.tmp`);
  // One left by a run of the same pid that died between open and rename.
  try {
    unlinkSync(temp);
  } catch {}
  const fd = openSync(
    temp,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    mode,
  );
  try {
    // The mode explicitly: the unit's UMask=0077 would otherwise narrow a new file to 0600.
    fchmodSync(fd, mode);
    // Root's group, as install.sh writes the file. Under the unit (no CAP_CHOWN) the file keeps the
    // daemon's group; it is still root's and not group-writable, which is what the reader requires.
    try {
      fchownSync(fd, 0, 0);
    } catch {}
    const bytes = Buffer.from(text, "utf8");
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    unlinkSync(temp);
    throw err;
  }
  closeSync(fd);
  try {
    renameSync(temp, target);
  } catch (err) {
    unlinkSync(temp);
    throw err;
  }
  const dirFd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}

/** The permission bits to keep, never wider than 0644 (the reader refuses group or other write). */
function fstatMode(path: string): number {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    return fstatSync(fd).mode & 0o644;
  } finally {
    closeSync(fd);
  }
}
