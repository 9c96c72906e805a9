// Where the stub forwards names that are not resources: the portal's `upstream_dns`, parsed at the
// boundary, or the system's own servers read from a resolv.conf-format file.
import { nameserversOf, type Upstream } from "../dns/index.ts";
import { formatIp, type Logger, parseIp } from "../util/index.ts";

/** The most upstreams taken from the portal or the system; resolvers use three, we allow a few more. */
const MAX_UPSTREAMS = 8;
/** resolved's own stubs: forwarding there would ask the stub again. */
const RESOLVED_STUBS = ["127.0.0.53", "127.0.0.54"];

/** Valid IP addresses from the portal's list, as upstreams; anything else is logged and skipped. */
export function upstreamsFromPortal(list: readonly string[], logger: Logger): Upstream[] {
  const out: Upstream[] = [];
  for (const text of list) {
    const ip = parseIp(text);
    if (!ip) {
      logger.warn("the portal's upstream_dns holds something that is not an IP address; skipped", {
        value: text.slice(0, 64),
      });
      continue;
    }
    const address = formatIp(ip.bytes);
    if (!out.some((u) => u.address === address)) out.push({ address, port: 53 });
  }
  return out.slice(0, MAX_UPSTREAMS);
}

/**
 * The nameservers of a resolv.conf-format file, as upstreams, leaving out `self` (the stub's own
 * addresses) and resolved's stubs; a missing file gives none.
 */
export async function readUpstreams(path: string, self: readonly string[]): Promise<Upstream[]> {
  const text = await Bun.file(path)
    .text()
    .catch(() => "");
  return nameserversOf(text, [...self, ...RESOLVED_STUBS]).slice(0, MAX_UPSTREAMS);
}
