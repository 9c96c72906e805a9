// The one place that loads libc through bun:ffi. Other files in lib/sys add their calls to the table
// below. Each symbol is bound on first use: binding compiles a trampoline, and a short-lived
// firezonectl should pay only for the few calls it makes.
import { type ConvertFns, dlopen, type FFIFunction, FFIType, read } from "bun:ffi";

const { i32, u32, u64, i64, i64_fast, ptr, cstring } = FFIType;

const DEFS = {
  __errno_location: { args: [], returns: ptr },
  close: { args: [i32], returns: i32 },
  socket: { args: [i32, i32, i32], returns: i32 },
  bind: { args: [i32, ptr, u32], returns: i32 },
  listen: { args: [i32, i32], returns: i32 },
  connect: { args: [i32, ptr, u32], returns: i32 },
  sendto: { args: [i32, ptr, u64, i32, ptr, u32], returns: i32 },
  recvfrom: { args: [i32, ptr, u64, i32, ptr, ptr], returns: i32 },
  getsockopt: { args: [i32, i32, i32, ptr, ptr], returns: i32 },
  setsockopt: { args: [i32, i32, i32, ptr, u32], returns: i32 },
  getsockname: { args: [i32, ptr, ptr], returns: i32 },
  open: { args: [cstring, i32, u32], returns: i32 },
  ioctl: { args: [i32, u64, ptr], returns: i32 },
  fcntl: { args: [i32, i32, i32], returns: i32 },
  poll: { args: [ptr, u64, i32], returns: i32 },
  getpwuid_r: { args: [u32, ptr, ptr, u64, ptr], returns: i32 },
  getpwnam_r: { args: [cstring, ptr, ptr, u64, ptr], returns: i32 },
  getgrnam_r: { args: [cstring, ptr, ptr, u64, ptr], returns: i32 },
  getgrgid_r: { args: [u32, ptr, ptr, u64, ptr], returns: i32 },
  getgrouplist: { args: [cstring, u32, ptr, ptr], returns: i32 },
  // For pidfd_open and pidfd_send_signal, which glibc before 2.36 does not wrap.
  syscall: { args: [i64, i64, i64, i64, i64], returns: i64_fast },
  prctl: { args: [i32, u64, u64, u64, u64], returns: i32 },
} satisfies Record<string, FFIFunction>;

type Libc = ConvertFns<typeof DEFS>;
const bound: Partial<Libc> = {};

function bind<K extends keyof Libc>(name: K): Libc[K] {
  const fn = dlopen("libc.so.6", { [name]: DEFS[name] } as Pick<typeof DEFS, K>).symbols[
    name
  ] as unknown as Libc[K];
  bound[name] = fn;
  return fn;
}

/** libc's functions, bound lazily. __errno_location is bound before anything else, so that binding it
 * later can never clobber the errno of a call that just failed. */
export const libc: Libc = new Proxy({} as Libc, {
  get(_target, name: string) {
    const key = name as keyof Libc;
    const fn = bound[key];
    if (fn) return fn;
    if (!(key in DEFS)) return undefined;
    if (!bound.__errno_location) bind("__errno_location");
    return bind(key);
  },
});

/** errno of the last failed libc call; read it right after the call, before anything else runs. */
export function errno(): number {
  return read.i32(libc.__errno_location()!, 0);
}

/** A NUL-terminated C string in a fresh buffer, for `cstring` arguments. */
export function cstr(s: string): Buffer {
  return Buffer.from(`${s}\0`, "utf8");
}
