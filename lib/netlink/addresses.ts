// Interface addresses over rtnetlink, IPv4 and IPv6, in CIDR text ("100.64.0.2/32").
import { formatCidr, parseCidr } from "../util/index.ts";
import type { NetlinkConnection } from "./connection.ts";
import { AF_INET, AF_INET6, AF_UNSPEC, IFA, NLM, RT_SCOPE_UNIVERSE, RTM } from "./constants.ts";
import { attrMap, type NlMessage, readU8, readU32 } from "./parse.ts";

export interface Address {
  index: number;
  /** The local address with its prefix length, as `ip addr` shows it. */
  cidr: string;
  family: 4 | 6;
  flags: number;
}

export interface AddressOptions {
  /** Replace an address that already exists instead of failing with AlreadyExistsError. */
  replace?: boolean;
  /** IFA_F_NODAD for IPv6: usable at once, no duplicate-address detection delay on a point-to-point tunnel. */
  noDad?: boolean;
  /**
   * IPv6: preferred lifetime 0 (valid for ever), so the address receives traffic but is never chosen
   * as the source of outgoing packets (RFC 6724 avoids deprecated addresses), like `preferred_lft 0`.
   */
  notSource?: boolean;
}

/** One RTM_NEWADDR/RTM_DELADDR body; null for other families or without an address. */
export function decodeAddress(m: NlMessage): Address | null {
  const family = readU8(m.body, 0);
  if (family !== AF_INET && family !== AF_INET6) return null;
  const prefix = readU8(m.body, 1);
  const attrs = attrMap(m.body, 8);
  const local = attrs.get(IFA.LOCAL) ?? attrs.get(IFA.ADDRESS);
  if (!local) return null;
  const f = family === AF_INET ? 4 : 6;
  const flags = attrs.has(IFA.FLAGS) ? readU32(attrs.get(IFA.FLAGS)!) : readU8(m.body, 2);
  return {
    index: readU32(m.body, 4),
    cidr: formatCidr({ family: f, bytes: local, prefix }),
    family: f,
    flags,
  };
}

export function listAddresses(conn: NetlinkConnection, index?: number): Address[] {
  return conn
    .request(RTM.GETADDR, (w) => w.u8(AF_UNSPEC).u8(0).u8(0).u8(0).u32(0), {
      dump: true,
      operation: "list addresses",
    })
    .filter((m) => m.type === RTM.NEWADDR)
    .map(decodeAddress)
    .filter((a): a is Address => a !== null && (index === undefined || a.index === index));
}

function writeAddress(
  type: number,
  conn: NetlinkConnection,
  index: number,
  cidr: string,
  flags: number,
  extra: number,
  notSource = false,
) {
  const c = parseCidr(cidr);
  const verb = type === RTM.NEWADDR ? "add" : "delete";
  conn.request(
    type,
    (w) => {
      // struct ifaddrmsg: family, prefixlen, flags, scope, index.
      w.u8(c.family === 4 ? AF_INET : AF_INET6)
        .u8(c.prefix)
        .u8(extra & 0xff)
        .u8(RT_SCOPE_UNIVERSE)
        .u32(index);
      w.attr(IFA.LOCAL, c.bytes).attr(IFA.ADDRESS, c.bytes);
      if (type === RTM.NEWADDR) w.attrU32(IFA.FLAGS, extra);
      if (type === RTM.NEWADDR && notSource) {
        // struct ifa_cacheinfo: preferred 0, valid infinite (0xffffffff), cstamp, tstamp.
        const info = new DataView(new ArrayBuffer(16));
        info.setUint32(4, 0xffffffff, true);
        w.attr(IFA.CACHEINFO, new Uint8Array(info.buffer));
      }
    },
    { flags, operation: `${verb} address ${cidr} on link ${index}` },
  );
}

export function addAddress(
  conn: NetlinkConnection,
  index: number,
  cidr: string,
  options: AddressOptions = {},
): void {
  const v6 = parseCidr(cidr).family === 6;
  const extra = v6 && options.noDad !== false ? IFA.F_NODAD : 0;
  const flags = NLM.F_CREATE | (options.replace ? NLM.F_REPLACE : NLM.F_EXCL);
  writeAddress(RTM.NEWADDR, conn, index, cidr, flags, extra, v6 && options.notSource === true);
}

export function deleteAddress(conn: NetlinkConnection, index: number, cidr: string): void {
  writeAddress(RTM.DELADDR, conn, index, cidr, 0, 0);
}
