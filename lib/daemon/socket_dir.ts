// Creates the socket's directory and the socket with the owner and modes of the security model,
// without ever acting on a path a non-root user could redirect: every directory from / down to the
// socket's must be unwritable by other users (or sticky, holding root's entry), the socket's own
// directory is never a symlink, and owner and mode are set through descriptors opened with
// O_NOFOLLOW, not by path after bind().
import {
  chmodSync,
  chownSync,
  closeSync,
  constants,
  existsSync,
  fchmodSync,
  fchownSync,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  realpathSync,
  type Stats,
  unlinkSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { connectDaemon } from "../ipc/index.ts";
import { FzError } from "../types/index.ts";

/** Linux's O_PATH: a descriptor that names an inode without opening it (works for sockets). */
const O_PATH = 0o10000000;
const S_ISVTX = 0o1000;

/** True when a user other than root could create, rename or remove entries in the directory. */
function othersMayWrite(st: Stats): boolean {
  return st.uid !== 0 || (st.mode & 0o002) !== 0 || ((st.mode & 0o020) !== 0 && st.gid !== 0);
}

function unsafeDir(dir: string, why: string, fix: string): FzError {
  return new FzError(
    "invalid_request",
    `refusing to create the socket in ${dir}: ${why}, so another user could swap the socket for a ` +
      `link to any file and have firezoned change that file's owner and mode. ${fix}`,
  );
}

/** lstat, or null when nothing is there. */
function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}

/**
 * Checks every directory from / down to the parent of `dir` (resolved): none may be writable by a
 * non-root user, except a sticky one (like /tmp) whose next entry is root's or not there yet (the
 * daemon then creates it, and checks it after). Returns `dir` with its parent resolved.
 */
function checkAncestors(dir: string): string {
  const parent = realpathSync(dirname(dir));
  const parts = [...parent.split("/").filter(Boolean), basename(dir)];
  let path = "/";
  for (const name of parts) {
    const st = lstatSync(path);
    const next = join(path, name);
    if (othersMayWrite(st)) {
      const entry = lstatOrNull(next);
      const guarded = (st.mode & S_ISVTX) !== 0 && st.uid === 0 && (entry === null || entry.uid === 0);
      if (!guarded) {
        throw unsafeDir(
          dir,
          `${path} is writable by users other than root`,
          "Put the socket under a directory only root can write (the default, /run/firezoned, is).",
        );
      }
    }
    path = next;
  }
  return path;
}

/** Opens a directory without following a symlink; the caller closes the descriptor. */
function openDirNoFollow(dir: string): number {
  try {
    return openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === "ELOOP" || code === "ENOTDIR") {
      throw unsafeDir(
        dir,
        "it is a symbolic link or not a directory",
        `Remove it (sudo rm ${dir}) and restart.`,
      );
    }
    throw err;
  }
}

/** Sets owner and mode on the open descriptor, only where they differ (the unit may lack CAP_CHOWN). */
function ensureOwnerModeFd(fd: number, st: Stats, gid: number, mode: number): void {
  if (st.uid !== 0 || st.gid !== gid) fchownSync(fd, 0, gid);
  if ((st.mode & 0o7777) !== mode) fchmodSync(fd, mode);
}

/**
 * Makes the runtime directory 0750 root:<group>. The directories above it must be root's alone;
 * the directory itself must not be a symlink nor writable by other users. A directory named by
 * FIREZONE_SOCKET that already exists keeps its mode (it may be a test's temp dir); one the daemon
 * creates, or the packaged default, gets the packaged owner and mode.
 */
export function prepareSocketDir(
  socketPath: string,
  gid: number,
  ownsDir: boolean,
  groupName = String(gid),
): void {
  const wanted = dirname(socketPath);
  mkdirSync(dirname(wanted), { recursive: true, mode: 0o755 });
  const dir = checkAncestors(wanted);
  let created = false;
  try {
    mkdirSync(dir, { mode: 0o750 });
    created = true;
  } catch (err) {
    if ((err as { code?: string }).code !== "EEXIST") throw err;
  }
  const fd = openDirNoFollow(dir);
  try {
    const st = fstatSync(fd);
    if (!created && othersMayWrite(st)) {
      throw unsafeDir(
        dir,
        st.uid !== 0 ? `it belongs to uid ${st.uid}, not root` : "users other than root may write to it",
        `Fix it: sudo chown root:${groupName} ${dir} && sudo chmod 0750 ${dir}, or choose another directory.`,
      );
    }
    if (ownsDir || created) ensureOwnerModeFd(fd, st, gid, 0o750);
  } finally {
    closeSync(fd);
  }
}

/**
 * Refuses to start when a live daemon answers on the socket; removes a stale socket file that
 * nothing listens on (left by a crash).
 */
export async function claimSocket(socketPath: string): Promise<"fresh" | "stale"> {
  if (!existsSync(socketPath)) return "fresh";
  try {
    const client = await connectDaemon({ socketPath, requireRootPeer: false, timeoutMs: 2000 });
    const pid = client.hello.pid;
    client.close();
    throw new FzError(
      "busy",
      `firezoned is already running (pid ${pid}) on ${socketPath}. Stop it first: sudo systemctl stop firezoned`,
    );
  } catch (err) {
    if (err instanceof FzError && err.code !== "daemon_unreachable") {
      if (err.code === "busy") throw err;
      // Something answers but is not a daemon we understand: do not steal its socket.
      throw new FzError(
        "busy",
        `another program answers on ${socketPath} (${err.message}); not replacing it`,
      );
    }
  }
  unlinkSync(socketPath);
  return "stale";
}

/**
 * After listen(): the socket file itself must be 0660 root:<group>. It is opened with
 * O_PATH|O_NOFOLLOW and changed through /proc/self/fd, which names that very inode: a symlink put
 * in its place is refused, never followed.
 */
export function secureSocket(socketPath: string, gid: number): void {
  const fd = openSync(socketPath, O_PATH | constants.O_NOFOLLOW);
  try {
    const st = fstatSync(fd);
    if (!st.isSocket() || st.uid !== 0) {
      throw new FzError(
        "invalid_request",
        `${socketPath} is not the socket firezoned just created (something replaced it); refusing to serve`,
      );
    }
    const self = `/proc/self/fd/${fd}`;
    if (st.gid !== gid) chownSync(self, 0, gid);
    if ((st.mode & 0o7777) !== 0o660) chmodSync(self, 0o660);
  } finally {
    closeSync(fd);
  }
}
