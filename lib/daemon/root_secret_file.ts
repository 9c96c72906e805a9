// Reads a secret that only root may have written: the service token file, a systemd credential, a
// Docker secret. Every check is made on the descriptor that is then read (no stat-then-read window),
// and every directory above the file must be one that no other user can change.
import { closeSync, constants, fstatSync, lstatSync, openSync, readlinkSync, readSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { FzError } from "../types/index.ts";

/** A token is a few hundred bytes; anything near this is not a token. */
export const MAX_SECRET_BYTES = 8 * 1024;

// Node's fs.constants has no O_CLOEXEC; the Linux value (asm-generic) is the same on x86-64 and arm64.
const O_CLOEXEC = 0o2000000;
// O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, and the daemon with it.
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | O_CLOEXEC;

const S_ISVTX = 0o1000;

export type SecretFileResult = { kind: "missing" } | { kind: "read"; bytes: Buffer };

function refuse(path: string, why: string, fix: string): FzError {
  return new FzError("invalid_token", `refusing the service token ${path}: ${why}. Fix: ${fix}`);
}

function modeString(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, "0");
}

/**
 * Who, other than root, can change directory entries in `dir` (owner, group or others with write
 * permission); null when nobody can. The sticky bit does not help: it stops others from renaming a
 * file they do not own, not from creating the name first.
 */
function writableByNonRoot(st: { uid: number; gid: number; mode: number }): string | null {
  if (st.uid !== 0) return `it belongs to uid ${st.uid}`;
  if (st.mode & 0o002)
    return `every user may write to it (mode ${modeString(st.mode)}${st.mode & S_ISVTX ? ", sticky" : ""})`;
  if (st.mode & 0o020 && st.gid !== 0)
    return `members of gid ${st.gid} may write to it (mode ${modeString(st.mode)})`;
  return null;
}

/**
 * Walks every directory above `path` (not following symlinks) up to `/`, and, where a component is
 * a symlink, the directories of its target too: a user who can write any of them could swap the
 * file for a symlink to another root-only file, whose contents would then go to the portal.
 */
function checkDirectories(path: string, original: string, seen = new Set<string>()): void {
  let dir = dirname(path);
  for (;;) {
    if (seen.has(dir)) return;
    seen.add(dir);
    if (seen.size > 64)
      throw refuse(original, "its directories nest symlinks too deeply", "use a plain path");
    let st: ReturnType<typeof lstatSync>;
    try {
      st = lstatSync(dir);
    } catch (err) {
      throw refuse(
        original,
        `cannot inspect its directory ${dir} (${(err as Error).message})`,
        "check the path",
      );
    }
    if (st.isSymbolicLink()) {
      // The link itself lives in the parent, checked next; where it points must be safe as well.
      const target = resolve(dirname(dir), readlinkSync(dir));
      checkDirectories(`${target}/.`, original, seen);
    } else {
      const who = writableByNonRoot(st);
      if (who)
        throw refuse(
          original,
          `${dir} is a directory above it and ${who}, so another user could swap the file`,
          `keep the token in a directory only root can write, e.g. /etc/firezoned (sudo chown root:root ${dir} && sudo chmod go-w ${dir}, or move the file)`,
        );
    }
    if (dir === "/") return;
    dir = dirname(dir);
  }
}

/**
 * Opens `path` with O_NOFOLLOW, then checks on that same descriptor that it is a regular file owned
 * by root that neither group nor others may read or write, and reads at most MAX_SECRET_BYTES.
 * Returns `missing` when nothing is at `path`; every refusal is an FzError naming the fix.
 */
export function readRootSecretFile(path: string): SecretFileResult {
  if (!isAbsolute(path)) throw refuse(path, "it is not an absolute path", "name the file by its full path");
  let fd: number;
  try {
    fd = openSync(path, OPEN_FLAGS);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === "ENOENT") return { kind: "missing" };
    if (code === "ELOOP")
      throw refuse(
        path,
        "it is a symlink",
        `replace it with the file itself: sudo cp --remove-destination "$(readlink -f ${path})" ${path}`,
      );
    throw refuse(
      path,
      `it cannot be opened (${(err as Error).message})`,
      "check the path and its permissions",
    );
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) {
      const what = st.isFIFO() ? "a FIFO" : st.isDirectory() ? "a directory" : "not a regular file";
      throw refuse(path, `it is ${what}`, "put the token in a regular file");
    }
    if (st.uid !== 0 || (st.mode & 0o077) !== 0)
      throw refuse(
        path,
        `it is owned by uid ${st.uid}, gid ${st.gid} with mode ${modeString(st.mode).slice(1)}, so other users could read or replace it`,
        `sudo chown root:root ${path} && sudo chmod 600 ${path}`,
      );
    checkDirectories(path, path);
    if (st.size > MAX_SECRET_BYTES)
      throw refuse(
        path,
        `it is ${st.size} bytes, more than the ${MAX_SECRET_BYTES} bytes a token can be`,
        "write only the service-account token into the file",
      );
    // Read from the checked descriptor, never the path; one byte more than allowed shows a file
    // that grew after fstat.
    const buf = Buffer.alloc(MAX_SECRET_BYTES + 1);
    let n = 0;
    for (;;) {
      const got = readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
      if (n === buf.length) break;
    }
    if (n > MAX_SECRET_BYTES)
      throw refuse(
        path,
        `it holds more than the ${MAX_SECRET_BYTES} bytes a token can be`,
        "write only the service-account token into the file",
      );
    return { kind: "read", bytes: buf.subarray(0, n) };
  } finally {
    closeSync(fd);
  }
}
