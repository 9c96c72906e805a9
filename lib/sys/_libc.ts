// The one place that loads libc through bun:ffi. Other files in lib/sys add their calls here so the
// library is opened once and every call shares the errno reader below.
import { dlopen, FFIType, read } from "bun:ffi";

const { i32, u32, u64, ptr, cstring } = FFIType;

export const libc = dlopen("libc.so.6", {
  __errno_location: { args: [], returns: ptr },
  close: { args: [i32], returns: i32 },
  socket: { args: [i32, i32, i32], returns: i32 },
  bind: { args: [i32, ptr, u32], returns: i32 },
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
}).symbols;

/** errno of the last failed libc call; read it right after the call, before anything else runs. */
export function errno(): number {
  return read.i32(libc.__errno_location()!, 0);
}

/** A NUL-terminated C string in a fresh buffer, for `cstring` arguments. */
export function cstr(s: string): Buffer {
  return Buffer.from(`${s}\0`, "utf8");
}
