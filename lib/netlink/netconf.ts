// Per-interface IPv4 settings the kernel reports over rtnetlink (RTM_GETNETCONF), for a process that
// cannot read /proc/sys: firezoned's unit has ProcSubset=pid, and the reverse-path filter of `doctor`
// still has to be read.
import type { NetlinkConnection } from "./connection.ts";
import { AF_INET } from "./constants.ts";
import { attrMap, readI32 } from "./parse.ts";

const RTM_NEWNETCONF = 80;
const RTM_GETNETCONF = 82;
const NETCONFA_IFINDEX = 1;
const NETCONFA_RP_FILTER = 3;
/** The ifindex values of the `all` and `default` entries. */
export const NETCONF_ALL = -1;
export const NETCONF_DEFAULT = -2;

export interface Netconf {
  /** An interface index, or NETCONF_ALL / NETCONF_DEFAULT. */
  ifindex: number;
  /** 0 off, 1 strict, 2 loose; absent when the kernel did not say. */
  rpFilter?: number;
}

/** Every IPv4 netconf entry of this network namespace (one per interface, plus all and default). */
export function listNetconf(conn: NetlinkConnection): Netconf[] {
  return conn
    .request(RTM_GETNETCONF, (w) => w.u8(AF_INET).u8(0).u8(0).u8(0), {
      dump: true,
      operation: "list IPv4 netconf",
    })
    .filter((m) => m.type === RTM_NEWNETCONF)
    .map((m) => {
      // struct netconfmsg is one byte, padded to four before the attributes.
      const attrs = attrMap(m.body, 4);
      const index = attrs.get(NETCONFA_IFINDEX);
      const rp = attrs.get(NETCONFA_RP_FILTER);
      const entry: Netconf = { ifindex: index ? readI32(index) : 0 };
      if (rp) entry.rpFilter = readI32(rp);
      return entry;
    });
}
