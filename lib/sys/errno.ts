// errno -> typed error classes: one table, so callers test `instanceof` and never compare numbers.

export const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM",
  2: "ENOENT",
  3: "ESRCH",
  4: "EINTR",
  5: "EIO",
  9: "EBADF",
  11: "EAGAIN",
  12: "ENOMEM",
  13: "EACCES",
  16: "EBUSY",
  17: "EEXIST",
  19: "ENODEV",
  22: "EINVAL",
  24: "EMFILE",
  28: "ENOSPC",
  34: "ERANGE",
  61: "ENODATA",
  71: "EPROTO",
  90: "EMSGSIZE",
  93: "EPROTONOSUPPORT",
  95: "EOPNOTSUPP",
  97: "EAFNOSUPPORT",
  98: "EADDRINUSE",
  99: "EADDRNOTAVAIL",
  101: "ENETUNREACH",
  105: "ENOBUFS",
  110: "ETIMEDOUT",
  111: "ECONNREFUSED",
  113: "EHOSTUNREACH",
};

/** A failed system call: `errno` is the number, `errnoName` its symbol, `syscall` what was called. */
export class SysError extends Error {
  readonly errno: number;
  readonly errnoName: string;
  readonly syscall: string;
  constructor(syscall: string, errno: number, detail?: string) {
    const name = ERRNO_NAMES[errno] ?? `errno ${errno}`;
    super(`${syscall}${detail ? ` ${detail}` : ""}: ${name}`);
    this.name = "SysError";
    this.errno = errno;
    this.errnoName = name;
    this.syscall = syscall;
  }
}
export class PermissionError extends SysError {}
export class NotFoundError extends SysError {}
export class AlreadyExistsError extends SysError {}
export class BusyError extends SysError {}
export class InvalidArgumentError extends SysError {}
export class WouldBlockError extends SysError {}
export class NotSupportedError extends SysError {}

const CLASSES: Record<number, typeof SysError> = {
  1: PermissionError,
  13: PermissionError,
  2: NotFoundError,
  3: NotFoundError,
  19: NotFoundError,
  17: AlreadyExistsError,
  16: BusyError,
  98: BusyError,
  22: InvalidArgumentError,
  11: WouldBlockError,
  93: NotSupportedError,
  95: NotSupportedError,
  97: NotSupportedError,
};

/** Builds the typed error for `errno` (positive number as the kernel reports it). */
export function sysError(syscall: string, errno: number, detail?: string): SysError {
  const Cls = CLASSES[errno] ?? SysError;
  return new Cls(syscall, errno, detail);
}
