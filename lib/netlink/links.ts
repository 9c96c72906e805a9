// Network interfaces over rtnetlink: list, look up, create by kind, set up/down/MTU, delete.
import type { NetlinkConnection } from "./connection.ts";
import { AF_UNSPEC, IFF_UP, IFLA, NLM, RTM } from "./constants.ts";
import { attrMap, type NlMessage, parseAttrs, readI32, readString, readU32 } from "./parse.ts";
import type { NlWriter } from "./writer.ts";

export interface Link {
  index: number;
  name: string;
  mtu: number;
  /** IFF_UP: administratively up. */
  up: boolean;
  flags: number;
  /** IFLA_INFO_KIND ("tun", "wireguard", "veth"...) when the kernel reports one. */
  kind?: string;
}

export interface LinkChange {
  up?: boolean;
  mtu?: number;
}

/** struct ifinfomsg: family, pad, type, index, flags, change (16 bytes). */
export function writeIfinfo(w: NlWriter, index: number, flags = 0, change = 0): NlWriter {
  return w.u8(AF_UNSPEC).u8(0).u16(0).i32(index).u32(flags).u32(change);
}

export function decodeLink(m: NlMessage): Link {
  const index = readI32(m.body, 4);
  const flags = readU32(m.body, 8);
  const attrs = attrMap(m.body, 16);
  const info = attrs.get(IFLA.LINKINFO);
  const kindAttr = info ? parseAttrs(info).find((a) => a.type === IFLA.INFO_KIND) : undefined;
  const link: Link = {
    index,
    name: readString(attrs.get(IFLA.IFNAME) ?? new Uint8Array()),
    mtu: attrs.has(IFLA.MTU) ? readU32(attrs.get(IFLA.MTU)!) : 0,
    up: (flags & IFF_UP) !== 0,
    flags,
  };
  if (kindAttr) link.kind = readString(kindAttr.data);
  return link;
}

export function listLinks(conn: NetlinkConnection): Link[] {
  return conn
    .request(RTM.GETLINK, (w) => writeIfinfo(w, 0), { dump: true, operation: "list links" })
    .filter((m) => m.type === RTM.NEWLINK)
    .map(decodeLink);
}

/** The link called `name`, or null when there is none. */
export function getLink(conn: NetlinkConnection, name: string): Link | null {
  try {
    const [m] = conn.request(RTM.GETLINK, (w) => writeIfinfo(w, 0).attrString(IFLA.IFNAME, name), {
      operation: `get link ${name}`,
    });
    return m ? decodeLink(m) : null;
  } catch (e) {
    if ((e as { errnoName?: string }).errnoName === "ENODEV") return null;
    throw e;
  }
}

/** Creates a link of `kind` (for example "wireguard"); fails with AlreadyExistsError if the name is taken. */
export function createLink(conn: NetlinkConnection, name: string, kind: string): void {
  conn.request(
    RTM.NEWLINK,
    (w) => {
      writeIfinfo(w, 0).attrString(IFLA.IFNAME, name);
      const info = w.nestStart(IFLA.LINKINFO);
      w.attrString(IFLA.INFO_KIND, kind);
      w.nestEnd(info);
    },
    { flags: NLM.F_CREATE | NLM.F_EXCL, operation: `create ${kind} link ${name}` },
  );
}

export function setLink(conn: NetlinkConnection, index: number, change: LinkChange): void {
  conn.request(
    RTM.NEWLINK,
    (w) => {
      writeIfinfo(w, index, change.up ? IFF_UP : 0, change.up === undefined ? 0 : IFF_UP);
      if (change.mtu !== undefined) w.attrU32(IFLA.MTU, change.mtu);
    },
    { operation: `set link ${index}${change.up === undefined ? "" : change.up ? " up" : " down"}` },
  );
}

export function deleteLink(conn: NetlinkConnection, index: number): void {
  conn.request(RTM.DELLINK, (w) => writeIfinfo(w, index), { operation: `delete link ${index}` });
}
