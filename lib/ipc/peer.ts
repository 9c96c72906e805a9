// Who is on the other end of a connection. The kernel's credentials decide, as they do for the
// socket's file mode; the group database (NSS) is asked off the event loop, for names, to explain a
// refusal, and to take member rights away from a user an administrator removed from the group.
import {
  AccountCache,
  accountLookup,
  type PeerCredentials,
  peerCredentials,
  peerExecutable,
  peerGroups,
} from "../sys/index.ts";
import type { FzError } from "../types/index.ts";
import { diagnose, MembershipError } from "./membership.ts";
import type { BaseTier } from "./protocol.ts";

/** What the kernel recorded about a peer at connect(): credentials, supplementary groups, program. */
export interface KernelPeer extends PeerCredentials {
  groups: number[];
  /** /proc/<pid>/exe, read pid-reuse-safely; null when the kernel does not let the daemon see it. */
  exe: string | null;
}

/** Reads everything the kernel says about the peer of a connected Unix socket. Does not block. */
export function kernelPeer(fd: number): KernelPeer {
  const cred = peerCredentials(fd);
  return { ...cred, groups: peerGroups(fd), exe: peerExecutable(fd, cred.pid, cred.uid) };
}

/** Who is on the other end of a connection, as the daemon established it. */
export interface PeerInfo {
  uid: number;
  gid: number;
  pid: number;
  /** The user's name once NSS has answered (off the event loop); `uid N` until then. */
  user: string;
  /** The peer's executable at connect time; null when the process is gone or not visible. */
  exe: string | null;
  /** Root is admin, group `firezone` member, the read-only group reader; `owner` is decided per call. */
  tier: BaseTier;
}

export interface Authorizer {
  /**
   * At accept, from the kernel's facts alone, without waiting: the caller's PeerInfo, or a promise
   * of the refusal (its diagnosis needs the group database, which is asked off the event loop).
   */
  admit(peer: KernelPeer): PeerInfo | Promise<FzError>;
  /** Before every state-changing request: throws the refusal when the caller may no longer operate. */
  mayChange(peer: PeerInfo): Promise<void>;
}

export interface GroupAuthorizerOptions {
  /** NSS answers; defaults to a cache of 10 s over `getent` in a child process. */
  accounts?: AccountCache;
  /** Told when the group database could not answer (timeout, directory server down). */
  onLookupError?: (uid: number, error: unknown) => void;
  /** The optional read-only group (status only); null or absent: no such tier. */
  readGroup?: { name: string; gid: number } | null;
}

/**
 * The daemon's own check behind the socket's file mode. Root is admin. A process that holds the
 * group, as its effective gid or a supplementary group the kernel recorded at connect, is member,
 * the same rule the kernel applied to the socket's mode; one that holds only the read-only group is
 * reader. Anyone else is refused with the diagnosis.
 * State-changing requests additionally need the group database to still list the user, so removing
 * a user from the group takes effect on connections they already hold.
 */
export function groupAuthorizer(
  group: { name: string; gid: number },
  options: GroupAuthorizerOptions = {},
): Authorizer {
  const accounts = options.accounts ?? new AccountCache(accountLookup());
  const nameOf = (uid: number) => accounts.peek(uid)?.name ?? `uid ${uid}`;
  // undefined: NSS could not answer (a timeout, a directory server down) and had never answered.
  const account = (uid: number) =>
    accounts.get(uid).catch((error: unknown) => {
      options.onLookupError?.(uid, error);
      return undefined;
    });
  return {
    admit(k) {
      const info: PeerInfo = {
        uid: k.uid,
        gid: k.gid,
        pid: k.pid,
        user: nameOf(k.uid),
        exe: k.exe,
        tier: "member",
      };
      const holds = (gid: number) => k.gid === gid || k.groups.includes(gid);
      const reader = options.readGroup ? holds(options.readGroup.gid) : false;
      if (k.uid === 0 || holds(group.gid) || reader) {
        if (k.uid === 0) info.tier = "admin";
        else if (!holds(group.gid)) info.tier = "reader";
        // Names are for logs and the audit line; they arrive when NSS answers and nothing waits for them.
        void account(k.uid).then((a) => {
          if (a) info.user = a.name;
        });
        return info;
      }
      return account(k.uid).then(
        (a) =>
          new MembershipError({
            diagnosis: diagnose(a?.groups.includes(group.gid) ?? false),
            group: group.name,
            user: a?.name ?? null,
          }),
      );
    },
    async mayChange(peer) {
      const a = await account(peer.uid);
      if (a) peer.user = a.name;
      if (peer.tier === "admin") return;
      // NSS has never answered for this uid: the kernel's answer at connect stands.
      if (a === undefined) return;
      const still = peer.tier === "reader" ? options.readGroup?.gid : group.gid;
      if (a === null || still === undefined || !a.groups.includes(still)) {
        throw new MembershipError({ diagnosis: "removed", group: group.name, user: a?.name ?? null });
      }
    },
  };
}
