// The read-only tier's way in: the socket is 0660 root:firezone, so members of the read group get
// POSIX ACL entries on the socket and its directory (search on the directory, read and write on the
// socket, which connect() needs). The daemon still decides what they may call: status only.
import { dirname } from "node:path";
import { ACCOUNT_NAME } from "../sys/index.ts";
import type { Logger } from "../util/index.ts";

/** Adds the ACL entries with setfacl (package acl); a failure is logged, and readers stay out. */
export async function grantReadGroup(socketPath: string, group: string, log: Logger): Promise<void> {
  if (!ACCOUNT_NAME.test(group)) {
    log.warn("the read-only group's name is not usable in an ACL", { group: group.slice(0, 64) });
    return;
  }
  const steps: Array<[string, string]> = [
    [`g:${group}:x`, dirname(socketPath)],
    [`g:${group}:rw`, socketPath],
  ];
  for (const [entry, path] of steps) {
    try {
      const p = Bun.spawn(["setfacl", "-m", entry, path], { stdout: "ignore", stderr: "pipe" });
      const [code, err] = await Promise.all([p.exited, new Response(p.stderr).text()]);
      if (code !== 0) throw new Error(err.trim() || `exit ${code}`);
    } catch (err) {
      log.warn("members of the read-only group cannot reach the socket", {
        group,
        path,
        error: (err as Error).message,
        fix: "install the acl package (setfacl) and restart firezoned",
      });
      return;
    }
  }
  log.info("the read-only group may read status", { group });
}
