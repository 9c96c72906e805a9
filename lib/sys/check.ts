import { errno } from "./_libc.ts";
import { sysError } from "./errno.ts";

/** Throws the typed error for errno when a libc call returned -1; passes other results through. */
export function check(syscall: string, result: number, detail?: string): number {
  if (result === -1) throw sysError(syscall, errno(), detail);
  return result;
}
