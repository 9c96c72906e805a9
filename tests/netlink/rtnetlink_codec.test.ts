// rtnetlink requests byte for byte, captured from the real request path with the socket's send and
// recv replaced. Expected bytes are written out by hand from the uapi headers: linux/netlink.h
// (nlmsghdr, NLM_F_*), linux/rtnetlink.h (RTM_*, struct rtmsg, RTA_*), linux/if_link.h
// (struct ifinfomsg, IFLA_*), linux/if_addr.h (struct ifaddrmsg, IFA_*).
import { describe, expect, test } from "bun:test";
import {
  addAddress,
  addRoute,
  createLink,
  decodeNetlinkError,
  deleteRoute,
  getLink,
  NetlinkConnection,
  setLink,
} from "../../lib/netlink/index.ts";
import { AlreadyExistsError, NETLINK_ROUTE, NotFoundError } from "../../lib/sys/index.ts";

const hex = (s: string) => s.replace(/\s+|#[^\n]*/g, "");

/** Runs `fn` against a connection whose kernel acks everything; returns the request bytes sent. */
function capture(fn: (conn: NetlinkConnection) => void, reply?: (seq: number) => Uint8Array): string {
  const conn = new NetlinkConnection(NETLINK_ROUTE);
  const sent: Buffer[] = [];
  conn.socket.send = (b: Uint8Array) => void sent.push(Buffer.from(b));
  conn.socket.recv = () => {
    const seq = sent.at(-1)!.readUInt32LE(8);
    if (reply) return reply(seq);
    const ack = Buffer.alloc(36); // nlmsghdr + error 0 + the request's header (capped)
    ack.writeUInt32LE(36, 0);
    ack.writeUInt16LE(2, 4);
    ack.writeUInt16LE(0x100, 6);
    ack.writeUInt32LE(seq, 8);
    return ack;
  };
  try {
    fn(conn);
  } finally {
    conn.close();
  }
  // The sequence number is random per connection; show it as zero.
  for (const b of sent) b.writeUInt32LE(0, 8);
  return sent.map((b) => b.toString("hex")).join("|");
}

describe("rtnetlink request encoding", () => {
  test("adding an IPv4 route through an interface in the main table", () => {
    expect(capture((c) => addRoute(c, { dst: "10.99.0.0/24", oif: 7, protocol: 122 }))).toBe(
      hex(`
        34000000 1800 0506 00000000 00000000   # len 52, RTM_NEWROUTE, REQUEST|ACK|EXCL|CREATE
        02 18 00 00 fe 7a fd 01 00000000       # rtmsg: AF_INET, /24, main, proto 122, RT_SCOPE_LINK, RTN_UNICAST
        0800 0f00 fe000000                     # RTA_TABLE 254
        0800 0100 0a630000                     # RTA_DST 10.99.0.0
        0800 0400 07000000                     # RTA_OIF 7
      `),
    );
  });

  test("replacing an IPv6 route in table 1000 puts the table in RTA_TABLE only", () => {
    expect(
      capture((c) =>
        addRoute(c, { dst: "fd99::1/64", oif: 7, table: 1000, protocol: 122 }, { replace: true }),
      ),
    ).toBe(
      hex(`
        40000000 1800 0505 00000000 00000000   # len 64, RTM_NEWROUTE, REQUEST|ACK|REPLACE|CREATE
        0a 40 00 00 00 7a 00 01 00000000       # rtmsg: AF_INET6, /64, RT_TABLE_UNSPEC, proto 122, universe, unicast
        0800 0f00 e8030000                     # RTA_TABLE 1000
        1400 0100 fd990000000000000000000000000000  # RTA_DST fd99:: (host bits cleared)
        0800 0400 07000000                     # RTA_OIF 7
      `),
    );
  });

  test("deleting a route matches any scope (RT_SCOPE_NOWHERE) and any type (RTN_UNSPEC)", () => {
    expect(capture((c) => deleteRoute(c, { dst: "10.99.0.0/24", oif: 7, protocol: 122 }))).toBe(
      hex(`
        34000000 1900 0500 00000000 00000000   # len 52, RTM_DELROUTE, REQUEST|ACK
        02 18 00 00 fe 7a ff 00 00000000
        0800 0f00 fe000000
        0800 0100 0a630000
        0800 0400 07000000
      `),
    );
  });

  test("adding addresses: IPv4 as is, IPv6 with IFA_F_NODAD", () => {
    expect(capture((c) => addAddress(c, 7, "100.64.0.2/32"))).toBe(
      hex(`
        30000000 1400 0506 00000000 00000000   # len 48, RTM_NEWADDR, REQUEST|ACK|EXCL|CREATE
        02 20 00 00 07000000                   # ifaddrmsg: AF_INET, /32, flags 0, universe, index 7
        0800 0200 64400002                     # IFA_LOCAL 100.64.0.2
        0800 0100 64400002                     # IFA_ADDRESS 100.64.0.2
        0800 0800 00000000                     # IFA_FLAGS 0
      `),
    );
    expect(capture((c) => addAddress(c, 7, "fd00:2021:1111::2/128", { replace: true }))).toBe(
      hex(`
        48000000 1400 0505 00000000 00000000   # len 72, RTM_NEWADDR, REQUEST|ACK|REPLACE|CREATE
        0a 80 02 00 07000000                   # ifaddrmsg: AF_INET6, /128, IFA_F_NODAD, universe, index 7
        1400 0200 fd002021111100000000000000000002  # IFA_LOCAL
        1400 0100 fd002021111100000000000000000002  # IFA_ADDRESS
        0800 0800 02000000                     # IFA_FLAGS IFA_F_NODAD
      `),
    );
  });

  test("setting a link up with an MTU, and creating a wireguard link", () => {
    expect(capture((c) => setLink(c, 7, { up: true, mtu: 1280 }))).toBe(
      hex(`
        28000000 1000 0500 00000000 00000000   # len 40, RTM_NEWLINK, REQUEST|ACK
        00 00 0000 07000000 01000000 01000000  # ifinfomsg: index 7, flags IFF_UP, change IFF_UP
        0800 0400 00050000                     # IFLA_MTU 1280
      `),
    );
    expect(capture((c) => createLink(c, "wg0", "wireguard"))).toBe(
      hex(`
        3c000000 1000 0506 00000000 00000000   # len 60, RTM_NEWLINK, REQUEST|ACK|EXCL|CREATE
        00 00 0000 00000000 00000000 00000000  # ifinfomsg
        0800 0300 77673000                     # IFLA_IFNAME "wg0"
        1400 1280                              # IFLA_LINKINFO | NLA_F_NESTED, len 20
          0e00 0100 776972656775617264 00 0000 #   IFLA_INFO_KIND "wireguard\\0", padded
      `),
    );
  });
});

describe("NLMSG_ERROR", () => {
  const errorBody = (code: number, text?: string) => {
    const head = Buffer.alloc(20); // error code + the request's nlmsghdr (capped)
    head.writeInt32LE(code, 0);
    if (!text) return head;
    const msg = Buffer.from(`${text}\0`);
    const tlv = Buffer.alloc(4 + ((msg.length + 3) & ~3));
    tlv.writeUInt16LE(4 + msg.length, 0);
    tlv.writeUInt16LE(1, 2); // NLMSGERR_ATTR_MSG
    msg.copy(tlv, 4);
    return Buffer.concat([head, tlv]);
  };

  test("an error code becomes the typed error, with the kernel's extended-ack text", () => {
    const err = decodeNetlinkError("add address", errorBody(-17, "Address already assigned"), 0x300);
    expect(err).toBeInstanceOf(AlreadyExistsError);
    expect(err!.message).toBe("netlink add address Address already assigned: EEXIST");
    expect(decodeNetlinkError("x", errorBody(0), 0x100)).toBeNull();
  });

  test("a link that does not exist is null from getLink, and ENODEV elsewhere is NotFoundError", () => {
    const enodev = (seq: number) => {
      const b = Buffer.alloc(36);
      b.writeUInt32LE(36, 0);
      b.writeUInt16LE(2, 4);
      b.writeUInt16LE(0x100, 6);
      b.writeUInt32LE(seq, 8);
      b.writeInt32LE(-19, 16);
      return b;
    };
    let link: unknown = "unset";
    capture((c) => {
      link = getLink(c, "nope0");
    }, enodev);
    expect(link).toBeNull();
    expect(() => capture((c) => setLink(c, 99, { up: true }), enodev)).toThrow(NotFoundError);
  });
});
