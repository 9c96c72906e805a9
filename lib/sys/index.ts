/**
 * The only user of bun:ffi: libc calls for peer credentials, groups and pidfds, NSS user and group
 * lookups (blocking ones for short-lived clients, off-loop ones for the daemon), sd_notify, and the
 * errno -> typed error table that every system call failure goes through.
 */
export { cstr, errno, libc } from "./_libc.ts";
export { AccountCache, type AccountCacheOptions } from "./account_cache.ts";
export {
  ACCOUNT_NAME,
  type Account,
  type AccountLookup,
  AccountLookupError,
  type AccountLookupOptions,
  accountLookup,
} from "./account_lookup.ts";
export { check } from "./check.ts";
export {
  AlreadyExistsError,
  BusyError,
  ERRNO_NAMES,
  InvalidArgumentError,
  NotFoundError,
  NotSupportedError,
  PermissionError,
  SysError,
  sysError,
  WouldBlockError,
} from "./errno.ts";
export { setListenBacklog } from "./listen_backlog.ts";
export {
  NETLINK_GENERIC,
  NETLINK_ROUTE,
  NetlinkSocket,
  type NetlinkSocketOptions,
} from "./netlink_socket.ts";
export { type PeerCredentials, peerCredentials } from "./peercred.ts";
export { peerGroups } from "./peergroups.ts";
export { peerExecutable, peerPidfd, pidfdAlive, pidfdSignal } from "./pidfd.ts";
export { isDumpable, setDumpable } from "./prctl.ts";
export { sdNotify, sockaddrUn } from "./sdnotify.ts";
export { closeFd, openTun, type TunHandle } from "./tun_open.ts";
export {
  type GroupInfo,
  groupByGid,
  groupByName,
  groupsOfUser,
  type UserInfo,
  userByName,
  userByUid,
} from "./users.ts";
