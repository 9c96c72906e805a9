// User and group lookups through glibc's NSS (getpwuid_r, getgrnam_r, getgrouplist), so users and
// groups from LDAP or SSSD count the same as those in /etc/passwd and /etc/group.
import { CString, ptr, read } from "bun:ffi";
import { cstr, libc } from "./_libc.ts";
import { sysError } from "./errno.ts";

const ERANGE = 34;

export interface UserInfo {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

export interface GroupInfo {
  name: string;
  gid: number;
  members: string[];
}

type ReentrantCall = (out: Buffer, buf: Buffer, result: BigUint64Array) => number;

/** Runs a `*_r` lookup, growing the string buffer on ERANGE; returns the struct or null if absent. */
function lookup(name: string, structSize: number, call: ReentrantCall): Buffer | null {
  for (let size = 4096; size <= 1 << 22; size *= 4) {
    const out = Buffer.alloc(structSize);
    const buf = Buffer.alloc(size);
    const result = new BigUint64Array(1);
    const rc = call(out, buf, result);
    if (rc === ERANGE) continue;
    if (rc !== 0) throw sysError(name, rc);
    if (result[0] === 0n) return null;
    // The struct points into `buf`; decode it before either buffer can be collected.
    return decodeKeepAlive(out, buf);
  }
  throw sysError(name, ERANGE);
}

// Pairs the struct with its string buffer so that pointer reads below stay valid.
const keepAlive = new WeakMap<Buffer, Buffer>();
function decodeKeepAlive(out: Buffer, buf: Buffer): Buffer {
  keepAlive.set(out, buf);
  return out;
}

function str(structBuf: Buffer, offset: number): string {
  const p = read.ptr(ptr(structBuf), offset);
  return p === 0 ? "" : new CString(p).toString();
}

// struct passwd (x86_64/aarch64): name@0, passwd@8, uid@16, gid@20, gecos@24, dir@32, shell@40.
function decodePasswd(b: Buffer): UserInfo {
  return { name: str(b, 0), uid: b.readUInt32LE(16), gid: b.readUInt32LE(20), home: str(b, 32) };
}

// struct group: name@0, passwd@8, gid@16, mem@24 (NULL-terminated char**).
function decodeGroup(b: Buffer): GroupInfo {
  const members: string[] = [];
  const mem = read.ptr(ptr(b), 24);
  if (mem !== 0) {
    for (let i = 0; ; i++) {
      const p = read.ptr(mem, i * 8);
      if (p === 0) break;
      members.push(new CString(p).toString());
    }
  }
  return { name: str(b, 0), gid: b.readUInt32LE(16), members };
}

export function userByUid(uid: number): UserInfo | null {
  const b = lookup("getpwuid_r", 48, (o, buf, r) =>
    libc.getpwuid_r(uid, ptr(o), ptr(buf), buf.length, ptr(r)),
  );
  return b && decodePasswd(b);
}

export function userByName(name: string): UserInfo | null {
  const n = cstr(name);
  const b = lookup("getpwnam_r", 48, (o, buf, r) =>
    libc.getpwnam_r(ptr(n), ptr(o), ptr(buf), buf.length, ptr(r)),
  );
  return b && decodePasswd(b);
}

export function groupByName(name: string): GroupInfo | null {
  const n = cstr(name);
  const b = lookup("getgrnam_r", 32, (o, buf, r) =>
    libc.getgrnam_r(ptr(n), ptr(o), ptr(buf), buf.length, ptr(r)),
  );
  return b && decodeGroup(b);
}

export function groupByGid(gid: number): GroupInfo | null {
  const b = lookup("getgrgid_r", 32, (o, buf, r) =>
    libc.getgrgid_r(gid, ptr(o), ptr(buf), buf.length, ptr(r)),
  );
  return b && decodeGroup(b);
}

/** Every group id of a user: its primary group plus all supplementary groups NSS knows. */
export function groupsOfUser(user: string, primaryGid: number): number[] {
  const name = cstr(user);
  let capacity = 64;
  for (;;) {
    const groups = new Uint32Array(capacity);
    const count = new Int32Array([capacity]);
    const rc = libc.getgrouplist(ptr(name), primaryGid, ptr(groups), ptr(count));
    if (rc !== -1) return Array.from(groups.subarray(0, count[0]!));
    // -1 means the list did not fit; glibc has written the size it needs into `count`.
    capacity = Math.max(count[0]!, capacity * 2);
  }
}
