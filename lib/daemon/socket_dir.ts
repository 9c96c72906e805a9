// Creates the socket's directory and the socket with the owner and modes of the security model.
import { chmodSync, chownSync, existsSync, mkdirSync, statSync, unlinkSync } from "node:fs";
import { dirname } from "node:path";
import { connectDaemon } from "../ipc/index.ts";
import { FzError } from "../types/index.ts";

function ensureOwnerMode(path: string, gid: number, mode: number): void {
  const st = statSync(path);
  // Skip chown when systemd already created it with the right group (the unit may lack CAP_CHOWN).
  if (st.uid !== 0 || st.gid !== gid) chownSync(path, 0, gid);
  if ((st.mode & 0o7777) !== mode) chmodSync(path, mode);
}

/**
 * Makes the runtime directory 0750 root:<group>. A directory named by FIREZONE_SOCKET that already
 * exists is left as it is (it may be /tmp); one the daemon creates gets the packaged owner and mode.
 */
export function prepareSocketDir(socketPath: string, gid: number, ownsDir: boolean): void {
  const dir = dirname(socketPath);
  const existed = existsSync(dir);
  if (!existed) mkdirSync(dir, { recursive: true, mode: 0o750 });
  if (ownsDir || !existed) ensureOwnerMode(dir, gid, 0o750);
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

/** After listen(): the socket file itself must be 0660 root:<group>. */
export function secureSocket(socketPath: string, gid: number): void {
  ensureOwnerMode(socketPath, gid, 0o660);
}
