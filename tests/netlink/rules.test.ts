// Policy-routing rules: the request bytes equal what `ip rule add` sends (captured with strace from
// iproute2 6.1: `ip rule add not fwmark 0xfd002021 table 0x2021fd00 priority 6410 protocol 122`),
// and against the running kernel in a throwaway namespace rules are added, read back by our dump
// and by `ip -j rule`, refused when duplicated, and deleted.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { resolve } from "node:path";
import { addRule, NetlinkConnection } from "../../lib/netlink/index.ts";
import { NETLINK_ROUTE } from "../../lib/sys/index.ts";

const hex = (s: string) => s.replace(/\s+|#[^\n]*/g, "");

function capture(fn: (conn: NetlinkConnection) => void): string {
  const conn = new NetlinkConnection(NETLINK_ROUTE);
  const sent: Buffer[] = [];
  conn.socket.send = (b: Uint8Array) => void sent.push(Buffer.from(b));
  conn.socket.recv = () => {
    const ack = Buffer.alloc(36);
    ack.writeUInt32LE(36, 0);
    ack.writeUInt16LE(2, 4);
    ack.writeUInt16LE(0x100, 6);
    ack.writeUInt32LE(sent.at(-1)!.readUInt32LE(8), 8);
    return ack;
  };
  try {
    fn(conn);
  } finally {
    conn.close();
  }
  for (const b of sent) b.writeUInt32LE(0, 8);
  return sent.map((b) => b.toString("hex")).join("|");
}

describe("rule request encoding", () => {
  test("`not fwmark M lookup T` equals iproute2's RTM_NEWRULE byte for byte", () => {
    const bytes = capture((c) =>
      addRule(c, {
        family: 4,
        priority: 6410,
        table: 0x2021fd00,
        invert: true,
        fwmark: 0xfd002021,
        protocol: 122,
      }),
    );
    expect(bytes).toBe(
      hex(`
        3c000000 2000 0506 00000000 00000000   # len 60, RTM_NEWRULE, REQUEST|ACK|EXCL|CREATE
        02 00 00 00 00 00 00 01 02000000       # fib_rule_hdr: AF_INET, table UNSPEC, FR_ACT_TO_TBL, FIB_RULE_INVERT
        0800 0a00 212000fd                     # FRA_FWMARK 0xfd002021
        0800 0f00 00fd2120                     # FRA_TABLE 0x2021fd00
        0800 0600 0a190000                     # FRA_PRIORITY 6410
        0500 1500 7a000000                     # FRA_PROTOCOL 122 (padded)
      `),
    );
  });

  test("IPv6 differs only in the family byte; a table under 256 also goes into the header", () => {
    const bytes = capture((c) =>
      addRule(c, { family: 6, priority: 6409, table: 254, suppressPrefixLength: 0 }),
    );
    expect(bytes).toBe(
      hex(`
        34000000 2000 0506 00000000 00000000   # len 52
        0a 00 00 00 fe 00 00 01 00000000       # AF_INET6, table main in the header too
        0800 0f00 fe000000                     # FRA_TABLE 254
        0800 0e00 00000000                     # FRA_SUPPRESS_PREFIXLEN 0
        0800 0600 09190000                     # FRA_PRIORITY 6409
      `),
    );
  });
});

const BUN = resolve(import.meta.dir, "../../node_modules/.bin/bun");
const ns = `fzrl-${Math.random().toString(36).slice(2, 8)}`;
// biome-ignore lint/suspicious/noExplicitAny: the probe's JSON report, read field by field below
let report: Record<string, any>;

beforeAll(() => {
  Bun.spawnSync(["ip", "netns", "add", ns]);
  const r = Bun.spawnSync(
    ["ip", "netns", "exec", ns, BUN, resolve(import.meta.dir, "fixtures/rule_probe.ts")],
    {
      stdout: "pipe",
      stderr: "pipe",
    },
  );
  if (r.exitCode !== 0) throw new Error(`probe failed: ${r.stderr.toString()}`);
  report = JSON.parse(r.stdout.toString());
});
afterAll(() => {
  Bun.spawnSync(["ip", "netns", "del", ns]);
});

describe("rules on the real kernel", () => {
  test("our dump reads back the rules we added, in both families", () => {
    expect(report.ours).toEqual([
      {
        family: 4,
        priority: 6410,
        table: 0x2021fd00,
        action: 1,
        invert: true,
        fwmark: 0xfd002021,
        fwmask: 0xffffffff,
        protocol: 122,
      },
      {
        family: 6,
        priority: 6409,
        table: 254,
        action: 1,
        invert: false,
        suppressPrefixLength: 0,
        protocol: 122,
      },
      {
        family: 6,
        priority: 6410,
        table: 0x2021fd00,
        action: 1,
        invert: true,
        fwmark: 0xfd002021,
        fwmask: 0xffffffff,
        protocol: 122,
      },
    ]);
  });

  test("`ip -j rule` shows the same rules", () => {
    expect(report.ip4).toEqual([
      { priority: 6410, not: null, src: "all", fwmark: "0xfd002021", table: "539098368", protocol: "122" },
    ]);
    expect(report.ip6).toEqual([
      { priority: 6409, src: "all", table: "main", suppress_prefixlen: 0, protocol: "122" },
      { priority: 6410, not: null, src: "all", fwmark: "0xfd002021", table: "539098368", protocol: "122" },
    ]);
  });

  test("an identical rule is refused as AlreadyExistsError; deleting a rule that is not there is NotFoundError", () => {
    expect(report.again.class).toBe("AlreadyExistsError");
    expect(report.badTable.class).toBe("NotFoundError");
  });

  test("deleting each listed rule leaves none of ours", () => {
    expect(report.afterDelete).toEqual([]);
  });
});
