// Names shared inside lib/wireguard.
import { ERRNO_NAMES } from "../sys/index.ts";

export type { Logger } from "../util/index.ts";

/** "EINVAL" for 22; UAPI and genetlink report errno numbers, sometimes negative. */
export function sysErrorName(code: number): string {
  return ERRNO_NAMES[Math.abs(code)] ?? `errno ${code}`;
}
