// WireGuard generic netlink against captures of real kernel traffic. In a Debian bookworm VM (kernel
// 6.1.0-56-amd64, wireguard-tools 1.0.20210914), on a fresh `ip link add wg0 type wireguard`:
//   strace -f -x -e trace=sendto,sendmsg,recvmsg -e write=all -e read=all \
//     wg set wg0 private-key <key 01..20> listen-port 51820 peer <key 21..40> \
//       endpoint 192.0.2.2:51820 persistent-keepalive 25 allowed-ips 10.99.0.0/24,fd99::/64
//   strace ... wg showconf wg0
// The two outputs are fixtures/wg_set_kernel6.1.strace and fixtures/wg_showconf_kernel6.1.strace.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { GenericNetlink, parseMessages } from "../../lib/netlink/index.ts";
import { publicKeyOf } from "../../lib/util/index.ts";
import { decodeGetDevice, encodeGetDevice, encodeSetDevice } from "../../lib/wireguard/index.ts";

interface Call {
  syscall: string;
  line: string;
  data: Buffer;
}

/** The syscalls of an strace -e write=all -e read=all log, each with the bytes it carried. */
function calls(file: string): Call[] {
  const out: Call[] = [];
  for (const line of readFileSync(resolve(import.meta.dir, "fixtures", file), "utf8").split("\n")) {
    const dump = /^ \| [0-9a-f]{5} {2}((?:[0-9a-f]{2} {1,2})+)/.exec(line);
    if (dump) {
      const last = out.at(-1)!;
      last.data = Buffer.concat([last.data, Buffer.from(dump[1]!.replace(/\s+/g, ""), "hex")]);
      continue;
    }
    const call = /^\d+ +(sendto|recvmsg)\(/.exec(line);
    if (call) out.push({ syscall: call[1]!, line, data: Buffer.alloc(0) });
  }
  return out;
}

const key = (first: number) =>
  Buffer.from(Array.from({ length: 32 }, (_, i) => first + i)).toString("base64");
const set = calls("wg_set_kernel6.1.strace");
const get = calls("wg_showconf_kernel6.1.strace");
const FAMILY = 0x20; // what this kernel assigned to "wireguard" (the nlctrl reply below)

describe("against wg and the kernel (captured)", () => {
  test("our WG_CMD_SET_DEVICE is byte for byte the message wg sent", () => {
    const sent = set.find((c) => c.syscall === "sendto" && c.line.includes("nlmsg_type=wireguard"))!;
    const seq = sent.data.readUInt32LE(8);
    const [ours, ...more] = encodeSetDevice(
      {
        privateKey: key(0x01),
        listenPort: 51820,
        peers: [
          {
            publicKey: key(0x21),
            endpoint: "192.0.2.2:51820",
            persistentKeepalive: 25,
            // `wg set ... allowed-ips` replaces the peer's allowed IPs.
            replaceAllowedIps: true,
            allowedIps: ["10.99.0.0/24", "fd99::/64"],
          },
        ],
      },
      { familyId: FAMILY, ifname: "wg0", seq },
    );
    expect(more).toEqual([]);
    expect(Buffer.from(ours!).toString("hex")).toBe(sent.data.toString("hex"));
  });

  test("our WG_CMD_GET_DEVICE dump request is byte for byte wg's", () => {
    const sent = get.find((c) => c.syscall === "sendto" && c.line.includes("nlmsg_type=wireguard"))!;
    const seq = sent.data.readUInt32LE(8);
    expect(Buffer.from(encodeGetDevice({ familyId: FAMILY, ifname: "wg0", seq })).toString("hex")).toBe(
      sent.data.toString("hex"),
    );
  });

  test("the family lookup reply and its ack resolve to the family id the kernel gave", () => {
    const replies = get.filter((c) => c.syscall === "recvmsg").slice(0, 2);
    const genl = new GenericNetlink();
    let seq = 0;
    let next = 0;
    genl.conn.socket.send = (b: Uint8Array) => {
      seq = Buffer.from(b).readUInt32LE(8);
    };
    genl.conn.socket.recv = () => {
      const d = Buffer.from(replies[next++]!.data);
      for (let at = 0; at < d.length; at += (d.readUInt32LE(at) + 3) & ~3) {
        d.writeUInt32LE(seq, at + 8);
        d.writeUInt32LE(genl.conn.socket.portId, at + 12);
      }
      return d;
    };
    try {
      expect(genl.family("wireguard")).toEqual({ id: FAMILY, name: "wireguard", version: 1 });
    } finally {
      genl.close();
    }
  });

  test("the kernel's dump reply decodes to the device wg set, the clamped key and all", () => {
    const reply = get.filter((c) => c.syscall === "recvmsg").at(-1)!;
    const messages = parseMessages(reply.data);
    expect(messages.map((m) => m.type)).toEqual([FAMILY, 3]); // the device, then NLMSG_DONE
    const device = decodeGetDevice(messages.filter((m) => m.type === FAMILY));
    // The kernel clamps private keys: byte 0 &= 248, byte 31 = (byte 31 & 127) | 64.
    expect(device.privateKey).toBe("AAIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eH2A=");
    // `wg show wg0 dump` in the same VM printed this public key.
    expect(device.publicKey).toBe("B6N8vBQgk8i3VdwbEOhstCY3StFqqFPtC9/AsrhtHHw=");
    expect(publicKeyOf(key(0x01))).toBe(device.publicKey!);
    expect(device).toMatchObject({ name: "wg0", listenPort: 51820, fwmark: 0 });
    expect(device.peers).toEqual([
      {
        publicKey: key(0x21),
        presharedKey: null,
        lastHandshakeMs: 0,
        persistentKeepalive: 25,
        txBytes: 0,
        rxBytes: 0,
        protocolVersion: 1,
        endpoint: "192.0.2.2:51820",
        allowedIps: ["10.99.0.0/24", "fd99::/64"],
      },
    ]);
  });
});
