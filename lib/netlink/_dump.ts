// The dump both routes and rules are read with: one request per address family whose header
// (struct rtmsg or struct fib_rule_hdr, both 12 bytes) is zero but for the family.
import type { NetlinkConnection } from "./connection.ts";
import { AF_INET, AF_INET6 } from "./constants.ts";
import type { NlMessage } from "./parse.ts";

export function dumpByFamily<T>(
  conn: NetlinkConnection,
  family: 4 | 6 | undefined,
  request: { get: number; reply: number; what: string },
  decode: (m: NlMessage) => T | null,
  keep: (item: T) => boolean,
): T[] {
  const families = family ? [family] : ([4, 6] as const);
  return families.flatMap((f) =>
    conn
      .request(
        request.get,
        (w) =>
          w
            .u8(f === 4 ? AF_INET : AF_INET6)
            .u8(0)
            .u8(0)
            .u8(0)
            .u32(0)
            .u32(0),
        { dump: true, operation: `list IPv${f} ${request.what}` },
      )
      .filter((m) => m.type === request.reply)
      .map(decode)
      .filter((item): item is T => item !== null && keep(item)),
  );
}
