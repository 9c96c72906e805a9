// WireGuard generic netlink messages byte for byte. The expected bytes are written out by hand from
// the kernel's uapi headers: linux/netlink.h (struct nlmsghdr, struct nlattr, NLA_F_NESTED 0x8000,
// NLA_ALIGNTO 4), linux/genetlink.h (struct genlmsghdr) and linux/wireguard.h (WG_CMD_*, WGDEVICE_A_*,
// WGPEER_A_*, WGALLOWEDIP_A_*), with attribute order and nesting as wireguard-tools' ipc-linux.h
// emits them (kernel_set_device) and as drivers/net/wireguard/netlink.c replies (get_peer).
import { describe, expect, test } from "bun:test";
import { parseMessages } from "../../lib/netlink/index.ts";
import { decodeGetDevice, encodeGetDevice, encodeSetDevice, type WgPeer } from "../../lib/wireguard/index.ts";

const hex = (s: string) => Buffer.from(s.replace(/\s+|#[^\n]*/g, ""), "hex");
const keyOf = (first: number) =>
  Buffer.from(Array.from({ length: 32 }, (_, i) => first + i)).toString("base64");
const PRIV = keyOf(0x01); // bytes 01..20
const PEER = keyOf(0x21); // bytes 21..40
const PRIV_HEX = "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20";
const PEER_HEX = "2122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f40";

/** A test-local attribute builder (not lib/netlink's), for replies the kernel would send. */
function attr(type: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt16LE(4 + payload.length, 0);
  head.writeUInt16LE(type, 2);
  return Buffer.concat([head, payload, Buffer.alloc((4 - (payload.length % 4)) % 4)]);
}
const u16 = (v: number) => Buffer.from([v & 0xff, v >> 8]);
const u32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return b;
};
const u64 = (v: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(v);
  return b;
};
function message(type: number, flags: number, seq: number, body: Buffer): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt32LE(16 + body.length, 0);
  h.writeUInt16LE(type, 4);
  h.writeUInt16LE(flags, 6);
  h.writeUInt32LE(seq, 8);
  return Buffer.concat([h, body]);
}

describe("WG_CMD_SET_DEVICE encoding", () => {
  test("a device with key, port, replace-peers and one peer is the exact byte string", () => {
    const [msg, ...rest] = encodeSetDevice(
      {
        privateKey: PRIV,
        listenPort: 51820,
        replacePeers: true,
        peers: [
          {
            publicKey: PEER,
            endpoint: "192.0.2.2:51820",
            persistentKeepalive: 25,
            replaceAllowedIps: true,
            allowedIps: ["10.99.0.0/24", "fd99::/64"],
          },
        ],
      },
      { familyId: 0x1b, ifname: "wg0", seq: 1 },
    );
    expect(rest).toEqual([]);
    const expected = hex(`
      e8000000 1b00 0500 01000000 00000000   # nlmsghdr: len 232, type family 0x1b, REQUEST|ACK, seq 1, port 0
      01 01 0000                             # genlmsghdr: WG_CMD_SET_DEVICE, version 1
      0800 0200 77673000                     # WGDEVICE_A_IFNAME "wg0\\0"
      2400 0300 ${PRIV_HEX}                  # WGDEVICE_A_PRIVATE_KEY
      0600 0600 6cca 0000                    # WGDEVICE_A_LISTEN_PORT u16 51820 (host order), padded
      0800 0500 01000000                     # WGDEVICE_A_FLAGS WGDEVICE_F_REPLACE_PEERS
      9800 0880                              # WGDEVICE_A_PEERS | NLA_F_NESTED, len 152
        9400 0080                            #   peer 0 | NLA_F_NESTED, len 148
          2400 0100 ${PEER_HEX}              #     WGPEER_A_PUBLIC_KEY
          1400 0400 0200 ca6c c0000202 0000000000000000  # WGPEER_A_ENDPOINT sockaddr_in AF_INET, port BE, 192.0.2.2
          0600 0500 1900 0000                #     WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL 25
          0800 0300 02000000                 #     WGPEER_A_FLAGS WGPEER_F_REPLACE_ALLOWEDIPS
          4800 0980                          #     WGPEER_A_ALLOWEDIPS | NLA_F_NESTED, len 72
            1c00 0080                        #       allowed IP 0, len 28
              0600 0100 0200 0000            #         WGALLOWEDIP_A_FAMILY AF_INET
              0800 0200 0a630000             #         WGALLOWEDIP_A_IPADDR 10.99.0.0
              0500 0300 18 000000            #         WGALLOWEDIP_A_CIDR_MASK 24
            2800 0080                        #       allowed IP 1, len 40
              0600 0100 0a00 0000            #         WGALLOWEDIP_A_FAMILY AF_INET6
              1400 0200 fd990000000000000000000000000000  # WGALLOWEDIP_A_IPADDR fd99::
              0500 0300 40 000000            #         WGALLOWEDIP_A_CIDR_MASK 64
    `);
    expect(Buffer.from(msg!).toString("hex")).toBe(expected.toString("hex"));
  });

  test("removing a peer sends only its key and WGPEER_F_REMOVE_ME; a null preshared key is 32 zero bytes", () => {
    const [remove] = encodeSetDevice(
      { peers: [{ publicKey: PEER, remove: true }] },
      { familyId: 0x1b, ifname: "wg0", seq: 7 },
    );
    expect(Buffer.from(remove!).toString("hex")).toBe(
      hex(`
        50000000 1b00 0500 07000000 00000000   # len 80, seq 7
        01 01 0000
        0800 0200 77673000                     # WGDEVICE_A_IFNAME
        3400 0880                              # WGDEVICE_A_PEERS, len 52
          3000 0080                            #   peer 0, len 48
            2400 0100 ${PEER_HEX}              #     WGPEER_A_PUBLIC_KEY
            0800 0300 01000000                 #     WGPEER_A_FLAGS WGPEER_F_REMOVE_ME
      `).toString("hex"),
    );
    const [psk] = encodeSetDevice(
      { peers: [{ publicKey: PEER, presharedKey: null }] },
      { familyId: 0x1b, ifname: "wg0", seq: 8 },
    );
    expect(Buffer.from(psk!).subarray(-36).toString("hex")).toBe(`24000200${"00".repeat(32)}`);
  });

  test("an IPv6 endpoint is a 28-byte sockaddr_in6 with the port in network order", () => {
    const [m] = encodeSetDevice(
      { peers: [{ publicKey: PEER, endpoint: "[2001:db8::1]:443" }] },
      { familyId: 0x1b, ifname: "wg0", seq: 1 },
    );
    expect(Buffer.from(m!).subarray(-32).toString("hex")).toBe(
      "2000 0400 0a00 01bb 00000000 20010db8000000000000000000000001 00000000".replace(/ /g, ""),
    );
  });

  test("many peers are split across messages that each fit, and only the first replaces peers", () => {
    const peers: WgPeer[] = Array.from({ length: 300 }, (_, i) => ({
      publicKey: Buffer.alloc(32, i % 256)
        .toString("base64")
        .replace(/^./, i < 256 ? "A" : "B"),
      endpoint: `192.0.2.${(i % 250) + 1}:51820`,
      allowedIps: [`10.${i >> 8}.${i & 0xff}.0/24`, `fd00:${(i + 1).toString(16)}::/64`],
    }));
    const messages = encodeSetDevice(
      { privateKey: PRIV, replacePeers: true, peers },
      { familyId: 0x1b, ifname: "wg0", seq: 100 },
    );
    expect(messages.length).toBeGreaterThan(5);
    for (const m of messages) expect(m.length).toBeLessThanOrEqual(4096);
    const parsed = messages.flatMap((m) => parseMessages(m));
    expect(parsed.map((m) => m.seq)).toEqual(messages.map((_, i) => 100 + i));
    // Only the first message carries the device attributes (private key, flags).
    expect(Buffer.from(messages[0]!).includes(hex(`0800 0500 01000000`))).toBe(true);
    for (const m of messages.slice(1)) expect(Buffer.from(m).includes(hex(PRIV_HEX))).toBe(false);
    // SET and GET share the attribute layout: decoding the messages gives the peers back in order.
    const back = decodeGetDevice(parsed);
    expect(back.peers!.map((p) => p.publicKey)).toEqual(peers.map((p) => p.publicKey));
    expect(back.peers!.map((p) => p.allowedIps)).toEqual(peers.map((p) => p.allowedIps));
  });

  test("a peer with more allowed IPs than one message holds continues in the next, without REPLACE_ALLOWEDIPS", () => {
    const allowedIps = Array.from({ length: 400 }, (_, i) => `10.${i >> 8}.${i & 0xff}.0/24`);
    const messages = encodeSetDevice(
      { peers: [{ publicKey: PEER, replaceAllowedIps: true, allowedIps }] },
      { familyId: 0x1b, ifname: "wg0", seq: 1 },
    );
    expect(messages.length).toBe(3);
    const flag = hex("0800 0300 02000000");
    expect(Buffer.from(messages[0]!).includes(flag)).toBe(true);
    expect(Buffer.from(messages[1]!).includes(flag)).toBe(false);
    const back = decodeGetDevice(messages.flatMap((m) => parseMessages(m)));
    expect(back.peers).toHaveLength(1);
    expect(back.peers![0]!.allowedIps).toEqual(allowedIps);
  });
});

describe("WG_CMD_GET_DEVICE", () => {
  test("the dump request names the device", () => {
    expect(
      Buffer.from(encodeGetDevice({ familyId: 0x1b, ifname: "wg0", seq: 2, portId: 99 })).toString("hex"),
    ).toBe(
      hex(`
        1c000000 1b00 0503 02000000 63000000   # len 28, REQUEST|ACK|DUMP (0x305), seq 2, port 99
        00 01 0000                             # WG_CMD_GET_DEVICE, version 1
        0800 0200 77673000                     # WGDEVICE_A_IFNAME "wg0"
      `).toString("hex"),
    );
  });

  test("a kernel reply split over two messages decodes into one device with one peer", () => {
    const ip4 = Buffer.concat([attr(1, u16(2)), attr(2, hex("0a630000")), attr(3, Buffer.from([24]))]);
    const ip6 = Buffer.concat([
      attr(1, u16(10)),
      attr(2, hex("fd990000000000000000000000000000")),
      attr(3, Buffer.from([64])),
    ]);
    const timespec = Buffer.concat([u64(1_700_000_000n), u64(500_000_000n)]);
    const sockaddr6 = hex("0a00 ca6c 00000000 20010db8000000000000000000000001 00000000");
    const peerFirst = Buffer.concat([
      attr(1, hex(PEER_HEX)), // WGPEER_A_PUBLIC_KEY
      attr(2, Buffer.alloc(32)), // WGPEER_A_PRESHARED_KEY: none
      attr(6, timespec), // WGPEER_A_LAST_HANDSHAKE_TIME
      attr(5, u16(25)), // WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL
      attr(8, u64(5678n)), // WGPEER_A_TX_BYTES
      attr(7, u64(1234n)), // WGPEER_A_RX_BYTES
      attr(10, u32(1)), // WGPEER_A_PROTOCOL_VERSION
      attr(4, sockaddr6), // WGPEER_A_ENDPOINT
      attr(9 | 0x8000, attr(0x8000, ip4)), // WGPEER_A_ALLOWEDIPS
    ]);
    const peerRest = Buffer.concat([attr(1, hex(PEER_HEX)), attr(9 | 0x8000, attr(0x8000, ip6))]);
    const genl = hex("00 01 0000");
    const first = message(
      0x1b,
      2,
      5,
      Buffer.concat([
        genl,
        attr(1, u32(7)), // WGDEVICE_A_IFINDEX
        attr(2, Buffer.from("wg0\0")), // WGDEVICE_A_IFNAME
        attr(3, hex(PRIV_HEX)), // WGDEVICE_A_PRIVATE_KEY
        attr(6, u16(51820)), // WGDEVICE_A_LISTEN_PORT
        attr(7, u32(0)), // WGDEVICE_A_FWMARK
        attr(8 | 0x8000, attr(0x8000, peerFirst)), // WGDEVICE_A_PEERS
      ]),
    );
    const second = message(
      0x1b,
      2,
      5,
      Buffer.concat([genl, attr(2, Buffer.from("wg0\0")), attr(8 | 0x8000, attr(0x8000, peerRest))]),
    );
    const device = decodeGetDevice(parseMessages(Buffer.concat([first, second])));
    expect(device).toEqual({
      name: "wg0",
      privateKey: PRIV,
      publicKey: device.publicKey!,
      listenPort: 51820,
      fwmark: 0,
      peers: [
        {
          publicKey: PEER,
          presharedKey: null,
          lastHandshakeMs: 1_700_000_000_500,
          persistentKeepalive: 25,
          txBytes: 5678,
          rxBytes: 1234,
          protocolVersion: 1,
          endpoint: "[2001:db8::1]:51820",
          allowedIps: ["10.99.0.0/24", "fd99::/64"],
        },
      ],
    });
  });
});
