// Generic netlink: resolves a family name ("wireguard") to its id through the nlctrl family, then
// carries requests whose body starts with the 4-byte genlmsghdr (cmd, version, reserved).
import { NETLINK_GENERIC, type NetlinkSocketOptions } from "../sys/index.ts";
import { NetlinkConnection, type RequestOptions } from "./connection.ts";
import { CTRL, GENL_ID_CTRL } from "./constants.ts";
import { attrMap, type NlMessage, readU16, readU32 } from "./parse.ts";
import type { NlWriter } from "./writer.ts";

export interface GenlFamily {
  id: number;
  name: string;
  version: number;
}

/** struct genlmsghdr. */
export function writeGenlHeader(w: NlWriter, cmd: number, version: number): NlWriter {
  return w.u8(cmd).u8(version).u16(0);
}

export class GenericNetlink {
  readonly conn: NetlinkConnection;

  constructor(options: NetlinkSocketOptions = {}) {
    this.conn = new NetlinkConnection(NETLINK_GENERIC, options);
  }

  /** Looks up a family; throws NotFoundError (ENOENT) when the kernel does not have it. */
  family(name: string): GenlFamily {
    const [reply] = this.conn.request(
      GENL_ID_CTRL,
      (w) => writeGenlHeader(w, CTRL.CMD_GETFAMILY, 1).attrString(CTRL.ATTR_FAMILY_NAME, name),
      { operation: `look up generic netlink family ${name}` },
    );
    if (!reply) throw new Error(`no reply to the lookup of generic netlink family ${name}`);
    const attrs = attrMap(reply.body, 4);
    const id = attrs.get(CTRL.ATTR_FAMILY_ID);
    if (!id) throw new Error(`the kernel's reply for family ${name} has no id`);
    const version = attrs.get(CTRL.ATTR_VERSION);
    return { id: readU16(id), name, version: version ? readU32(version) : 1 };
  }

  /** A request to `family`: `body` writes attributes after the genlmsghdr. */
  request(
    family: GenlFamily,
    cmd: number,
    body: (w: NlWriter) => void,
    options: RequestOptions = {},
  ): NlMessage[] {
    return this.conn.request(family.id, (w) => body(writeGenlHeader(w, cmd, family.version)), options);
  }

  close(): void {
    this.conn.close();
  }
}
