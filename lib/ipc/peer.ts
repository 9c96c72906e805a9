import { readlinkSync } from "node:fs";
import { groupsOfUser, type PeerCredentials, userByUid } from "../sys/index.ts";
import { FzError } from "../types/index.ts";
import type { Role } from "./protocol.ts";

/** Who is on the other end of a connection, as the daemon established it. */
export interface PeerInfo {
  uid: number;
  gid: number;
  pid: number;
  user: string;
  /** /proc/<pid>/exe at connect time; null when the process is gone or unreadable. */
  exe: string | null;
  role: Role;
}

export type Authorizer = (cred: PeerCredentials) => PeerInfo;

function exeOf(pid: number): string | null {
  try {
    return readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return null;
  }
}

/**
 * The daemon's own check behind the socket's file mode: root is admin, a member of `group`
 * (primary, supplementary or NSS-provided) is operator, anyone else is refused with the fix.
 */
export function groupAuthorizer(group: { name: string; gid: number }): Authorizer {
  return (cred) => {
    const pw = userByUid(cred.uid);
    const user = pw?.name ?? `uid ${cred.uid}`;
    const base = { uid: cred.uid, gid: cred.gid, pid: cred.pid, user, exe: exeOf(cred.pid) };
    if (cred.uid === 0) return { ...base, role: "admin" };
    const member =
      cred.gid === group.gid || (pw !== null && groupsOfUser(pw.name, pw.gid).includes(group.gid));
    if (member) return { ...base, role: "operator" };
    const who = pw ? pw.name : "$USER";
    throw new FzError(
      "permission_denied",
      `User '${user}' is not in group '${group.name}', so firezoned refuses the request. ` +
        `Run: sudo usermod -aG ${group.name} ${who}, then log out and in again.`,
    );
  };
}
