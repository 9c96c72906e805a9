// Generic netlink family lookup against a capture of real traffic: `wg show wgx0` run under
//   strace -f -x -e trace=sendto,recvmsg wg show wgx0
// in a namespace on a kernel without the wireguard module (wireguard-tools 1.0.20210914, Debian
// bookworm, kernel 6.18). The capture's sequence number and port id are zeroed for comparison.
import { describe, expect, test } from "bun:test";
import { GenericNetlink } from "../../lib/netlink/index.ts";
import { NotFoundError } from "../../lib/sys/index.ts";

// sendto(3, [{nlmsg_len=36, nlmsg_type=nlctrl, nlmsg_flags=NLM_F_REQUEST|NLM_F_ACK, nlmsg_seq=..., nlmsg_pid=0},
//   "\x03\x01\x00\x00\x0e\x00\x02\x00\x77\x69\x72\x65\x67\x75\x61\x72\x64\x00\x00\x00"], 36, 0, ...)
const WG_REQUEST = "24000000 1000 0500 00000000 00000000 03010000 0e000200 776972656775617264000000".replace(
  / /g,
  "",
);
// recvmsg: {nlmsg_len=56, nlmsg_type=NLMSG_ERROR, nlmsg_flags=0, ...}, {error=-ENOENT, msg=<the request>}
const KERNEL_REPLY = `38000000 0200 0000 00000000 00000000 feffffff ${WG_REQUEST}`.replace(/ /g, "");

describe("generic netlink family lookup", () => {
  test("asks exactly what wg asks, and the kernel's ENOENT becomes NotFoundError", () => {
    const genl = new GenericNetlink();
    const sent: Buffer[] = [];
    genl.conn.socket.send = (b: Uint8Array) => void sent.push(Buffer.from(b));
    genl.conn.socket.recv = () => {
      const reply = Buffer.from(KERNEL_REPLY, "hex");
      const seq = sent.at(-1)!.readUInt32LE(8);
      reply.writeUInt32LE(seq, 8);
      reply.writeUInt32LE(genl.conn.socket.portId, 12);
      return reply;
    };
    try {
      expect(() => genl.family("wireguard")).toThrow(NotFoundError);
    } finally {
      genl.close();
    }
    const request = sent[0]!;
    request.writeUInt32LE(0, 8);
    expect(request.toString("hex")).toBe(WG_REQUEST);
  });
});
