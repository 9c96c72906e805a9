// When the network monitor calls a change "the way out changed", and when it keeps quiet. First on
// the real kernel: NetworkWatch runs in a network namespace this test creates, on rtnetlink's own
// notifications, while `ip` changes that namespace. Then the decision rules one by one, fed with
// notifications built here (fast, no root), including a burst that must give exactly one reset.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { capture } from "../../devstack/shared/capture.ts";
import { Lines, spawnInNs } from "../../devstack/shared/netns.ts";
import { NetworkWatch, type NetworkWatchOptions } from "../../lib/daemon/network_watch.ts";
import { IFF_UP } from "../../lib/netlink/constants.ts";
import { IFF_LOWER_UP, type NetlinkEvent } from "../../lib/netlink/index.ts";
import { silentLogger } from "../../lib/util/index.ts";
import { BUN } from "../_support/build.ts";

const isRoot = process.getuid?.() === 0;
const NS = `fznw${process.pid}`;
const HOST = join(import.meta.dir, "fixtures/network_watch_host.ts");
const TUN = "tfz-watch";

const ip = async (...args: string[]) => {
  const r = await capture(["ip", "-n", NS, ...args]);
  if (r.code !== 0) throw new Error(`ip ${args.join(" ")}: ${r.err}`);
};

describe.skipIf(!isRoot)("on the real kernel, in a namespace of its own", () => {
  let proc: ReturnType<typeof spawnInNs>;
  let out: Lines;
  const changes = () => out.all.filter((l) => l.startsWith("change "));

  /** Waits for one more decision than `before` and returns its reasons. */
  async function nextChange(before: number): Promise<string[]> {
    const end = Date.now() + 5000;
    while (changes().length <= before) {
      if (Date.now() > end) throw new Error(`no change reported; output: ${out.all.join("\n")}`);
      await Bun.sleep(20);
    }
    return JSON.parse(changes()[before]!.slice("change ".length));
  }

  /** Nothing is reported for a while after `fn` (longer than the watch's 1 s maximum wait). */
  async function quietAfter(fn: () => Promise<void>): Promise<void> {
    const before = changes().length;
    await fn();
    await Bun.sleep(1500);
    expect(changes().slice(before)).toEqual([]);
  }

  beforeAll(async () => {
    await capture(["ip", "netns", "add", NS]);
    await ip("link", "set", "lo", "up");
    await ip("link", "add", "up0", "type", "veth", "peer", "name", "up0p");
    await ip("link", "set", "up0", "up");
    await ip("link", "set", "up0p", "up");
    await ip("addr", "add", "192.0.2.2/24", "dev", "up0");
    await ip("route", "add", "default", "via", "192.0.2.1");
    // The tunnel's stand-in: a TUN device with the tunnel's name.
    await ip("tuntap", "add", "dev", TUN, "mode", "tun");
    await ip("link", "set", TUN, "up");
    proc = spawnInNs(NS, [BUN, HOST, TUN]);
    out = new Lines(proc.stdout as ReadableStream<Uint8Array>);
    await out.next(/^ready/);
  });

  afterAll(async () => {
    proc?.kill();
    await capture(["ip", "netns", "del", NS]);
  });

  test("a new address on the uplink is one change, named", async () => {
    const before = changes().length;
    await ip("addr", "add", "192.0.2.3/24", "dev", "up0");
    expect(await nextChange(before)).toEqual(["address 192.0.2.3/24 added on up0"]);
  });

  test("a lease renewed with the same address is not a change", async () => {
    await quietAfter(() =>
      ip("addr", "change", "192.0.2.3/24", "dev", "up0", "valid_lft", "3600", "preferred_lft", "3600"),
    );
  });

  test("the tunnel's own interface, addresses and routes are never a change", async () => {
    await quietAfter(async () => {
      await ip("addr", "add", "100.64.0.9/32", "dev", TUN);
      await ip("route", "add", "10.9.0.0/16", "dev", TUN);
      await ip("route", "add", "default", "dev", TUN, "table", "100", "proto", "122");
      await ip("link", "set", TUN, "down");
      await ip("link", "set", TUN, "up");
    });
  });

  test("a route that is not a default route is not a change", async () => {
    await quietAfter(() => ip("route", "add", "198.51.100.0/24", "via", "192.0.2.1"));
  });

  test("the uplink going down is one change for the whole burst (link, addresses, routes)", async () => {
    const before = changes().length;
    await ip("link", "set", "up0", "down");
    const reasons = await nextChange(before);
    expect(reasons[0]).toBe("up0 went down");
    await Bun.sleep(1500);
    expect(changes().length).toBe(before + 1);
  });

  test("the uplink coming back and a default route on it are a change", async () => {
    const before = changes().length;
    await ip("link", "set", "up0", "up");
    await ip("route", "replace", "default", "via", "192.0.2.1");
    const reasons = await nextChange(before);
    expect(reasons).toContain("up0 went up");
  });

  test("the default route moving to another interface is a change", async () => {
    await ip("link", "add", "up1", "type", "veth", "peer", "name", "up1p");
    await ip("addr", "add", "203.0.113.2/24", "dev", "up1");
    // Up before the move, so only the route's own notifications are in the next decision.
    const quietBefore = changes().length;
    await ip("link", "set", "up1p", "up");
    await ip("link", "set", "up1", "up");
    await nextChange(quietBefore);
    await Bun.sleep(1200);
    const before = changes().length;
    await ip("route", "replace", "default", "via", "203.0.113.1", "dev", "up1");
    const reasons = await nextChange(before);
    expect(reasons.some((r) => r.startsWith("IPv4 default route via 203.0.113.1 on up1 added"))).toBe(true);
  });

  test("the default route replaced back and forth between two uplinks: every move is a change", async () => {
    // `ip route replace` announces only the new route (NLM_F_REPLACE), never the removal of the
    // one it replaced: that one must be forgotten, or moving back to it would not count.
    for (const [via, dev] of [
      ["192.0.2.1", "up0"],
      ["203.0.113.1", "up1"],
      ["192.0.2.1", "up0"],
    ] as const) {
      await Bun.sleep(1200);
      const before = changes().length;
      await ip("route", "replace", "default", "via", via, "dev", dev);
      const reasons = await nextChange(before);
      expect(reasons).toContain(`IPv4 default route via ${via} on ${dev} added`);
    }
  });
});

// The rules, with notifications made here: what a kernel would send, without needing one.
const link = (index: number, name: string, running: boolean, mtu = 1500): NetlinkEvent => ({
  kind: "link",
  removed: false,
  link: { index, name, mtu, up: running, flags: running ? IFF_UP | IFF_LOWER_UP : 0 },
});
const addr = (index: number, cidr: string, removed = false, flags = 0): NetlinkEvent => ({
  kind: "address",
  removed,
  address: { index, cidr, family: cidr.includes(":") ? 6 : 4, flags },
});
const route = (
  dst: string,
  oif: number,
  extra: Partial<{ table: number; protocol: number; gateway: string }> = {},
  removed = false,
): NetlinkEvent => ({
  kind: "route",
  removed,
  route: {
    dst,
    family: dst.includes(":") ? 6 : 4,
    table: extra.table ?? 254,
    oif,
    protocol: extra.protocol ?? 4,
    scope: 0,
    type: 1,
    metric: 0,
    ...(extra.gateway ? { gateway: extra.gateway } : {}),
  },
});

const defaultVia = (gateway: string) => {
  const e = route("0.0.0.0/0", 2, { gateway });
  if (e.kind !== "route") throw new Error("unreachable");
  return e.route;
};

function fedWatch(overrides: Partial<NetworkWatchOptions> = {}) {
  const decisions: string[][] = [];
  let feed: (events: NetlinkEvent[]) => void = () => {};
  let lose: (reason: string) => void = () => {};
  const watch = new NetworkWatch({
    tunnelName: "tun-firezone",
    tunnelProtocol: 122,
    logger: silentLogger,
    quietMs: 20,
    maxWaitMs: 200,
    onChange: (reasons) => decisions.push(reasons),
    snapshot: () => ({
      links: [
        { index: 1, name: "lo", mtu: 65536, up: true, flags: IFF_UP | IFF_LOWER_UP },
        { index: 2, name: "wlan0", mtu: 1500, up: true, flags: IFF_UP | IFF_LOWER_UP },
        { index: 9, name: "tun-firezone", mtu: 1280, up: true, flags: IFF_UP | IFF_LOWER_UP },
      ],
      addresses: [{ index: 2, cidr: "192.168.1.20/24", family: 4, flags: 0 }],
      routes: [defaultVia("192.168.1.1")],
    }),
    createMonitor: (handlers) => {
      feed = handlers.onEvents;
      lose = handlers.onLost;
      return { start() {}, stop() {} };
    },
    ...overrides,
  });
  watch.start();
  const settle = () => Bun.sleep(300);
  return {
    decisions,
    feed: (...events: NetlinkEvent[]) => feed(events),
    lose: (r: string) => lose(r),
    watch,
    settle,
  };
}

describe("the decision rules", () => {
  test("a burst of forty notifications gives exactly one change, its reasons capped", async () => {
    const w = fedWatch();
    for (let i = 0; i < 40; i++) w.feed(addr(2, `10.0.${i}.2/24`));
    await w.settle();
    expect(w.decisions).toHaveLength(1);
    expect(w.decisions[0]).toHaveLength(5);
    expect(w.decisions[0]![4]).toBe("and more");
    w.watch.stop();
  });

  test("a link that keeps changing still gets its change within the maximum wait", async () => {
    const w = fedWatch({ quietMs: 100, maxWaitMs: 250 });
    const started = performance.now();
    const flap = setInterval(() => w.feed(addr(2, `10.1.${Math.floor(Math.random() * 250)}.2/24`)), 30);
    while (w.decisions.length === 0 && performance.now() - started < 2000) await Bun.sleep(10);
    clearInterval(flap);
    expect(w.decisions.length).toBeGreaterThanOrEqual(1);
    w.watch.stop();
  });

  test("MTU and other attribute changes of a running link are not a change; losing the carrier is", async () => {
    const w = fedWatch();
    w.feed(link(2, "wlan0", true, 1400));
    await w.settle();
    expect(w.decisions).toEqual([]);
    w.feed(link(2, "wlan0", false));
    await w.settle();
    expect(w.decisions).toEqual([["wlan0 went down"]]);
    w.watch.stop();
  });

  test("IPv6 link-local and temporary (privacy) addresses are not a change; a new global one is", async () => {
    const w = fedWatch();
    w.feed(addr(2, "fe80::1/64"), addr(2, "2001:db8::abcd/64", false, 0x01));
    await w.settle();
    expect(w.decisions).toEqual([]);
    w.feed(addr(2, "2001:db8::20/64"));
    await w.settle();
    expect(w.decisions).toEqual([["address 2001:db8::20/64 added on wlan0"]]);
    w.watch.stop();
  });

  test("an IPv4 secondary address (the flag IPv6 uses for temporary ones) is a change", async () => {
    const w = fedWatch();
    w.feed(addr(2, "192.168.1.21/24", false, 0x01));
    await w.settle();
    expect(w.decisions).toEqual([["address 192.168.1.21/24 added on wlan0"]]);
    w.watch.stop();
  });

  test("the tunnel's routes (its interface or its protocol, any table) and loopback are ignored", async () => {
    const w = fedWatch();
    w.feed(
      route("0.0.0.0/0", 9, { table: 0x6d7a }),
      route("::/0", 3, { table: 200, protocol: 122 }),
      addr(9, "100.64.0.2/32"),
      addr(1, "127.0.0.2/8"),
      link(9, "tun-firezone", false),
    );
    await w.settle();
    expect(w.decisions).toEqual([]);
    w.watch.stop();
  });

  test("the default route removed, and one added through another gateway, are changes", async () => {
    const w = fedWatch();
    w.feed(route("0.0.0.0/0", 2, { gateway: "192.168.1.1" }, true));
    await w.settle();
    expect(w.decisions).toEqual([["IPv4 default route via 192.168.1.1 on wlan0 removed"]]);
    w.feed(route("0.0.0.0/0", 2, { gateway: "192.168.1.254" }));
    await w.settle();
    expect(w.decisions[1]).toEqual(["IPv4 default route via 192.168.1.254 on wlan0 added"]);
    w.watch.stop();
  });

  test("lost notifications (the kernel's buffer overflowed) count as a change", async () => {
    const w = fedWatch();
    w.lose("No buffer space available");
    await w.settle();
    expect(w.decisions).toEqual([["network notifications were lost"]]);
    w.watch.stop();
  });

  test("a burst that leaves a whole way out ends after the short wait; one that leaves none, after the long one", async () => {
    const w = fedWatch({ quietMs: 1500, settledQuietMs: 20, maxWaitMs: 5000 });
    // A new address on the uplink that keeps its default route: whole.
    w.feed(addr(2, "10.5.0.2/24"));
    await Bun.sleep(300);
    expect(w.decisions).toEqual([["address 10.5.0.2/24 added on wlan0"]]);
    // The default route gone: the rest of the reconfiguration is probably coming, so it waits.
    w.feed(route("0.0.0.0/0", 2, { gateway: "192.168.1.1" }, true));
    await Bun.sleep(300);
    expect(w.decisions).toHaveLength(1);
    // ...and the new default route makes it whole again: the short wait from there.
    w.feed(route("0.0.0.0/0", 2, { gateway: "192.168.1.254" }));
    await Bun.sleep(300);
    expect(w.decisions).toHaveLength(2);
    expect(w.decisions[1]).toEqual([
      "IPv4 default route via 192.168.1.1 on wlan0 removed",
      "IPv4 default route via 192.168.1.254 on wlan0 added",
    ]);
    // Without one, the long wait ends the burst all the same.
    w.feed(route("0.0.0.0/0", 2, { gateway: "192.168.1.254" }, true));
    while (w.decisions.length < 3) await Bun.sleep(50);
    expect(w.decisions[2]).toEqual(["IPv4 default route via 192.168.1.254 on wlan0 removed"]);
    w.watch.stop();
  });

  test("a default route on a link without carrier, or without an address of its family, is not a whole way out", async () => {
    const w = fedWatch({ quietMs: 1500, settledQuietMs: 20, maxWaitMs: 5000 });
    // The carrier lost (administratively up): the kernel keeps the routes, marked linkdown.
    w.feed({
      kind: "link",
      removed: false,
      link: { index: 2, name: "wlan0", mtu: 1500, up: true, flags: IFF_UP },
    });
    await Bun.sleep(300);
    expect(w.decisions).toEqual([]);
    while (w.decisions.length < 1) await Bun.sleep(50);
    w.feed(link(2, "wlan0", true), route("::/0", 2, { gateway: "fe80::1" }));
    await Bun.sleep(300);
    // wlan0 is up again with its IPv4 default route and address: whole, whatever IPv6 lacks.
    expect(w.decisions).toHaveLength(2);
    w.feed(addr(2, "192.168.1.20/24", true));
    await Bun.sleep(300);
    // No IPv4 address left for the IPv4 route, and the IPv6 route has no global address.
    expect(w.decisions).toHaveLength(2);
    w.feed(addr(2, "2001:db8::20/64"));
    await Bun.sleep(300);
    expect(w.decisions).toHaveLength(3);
    w.watch.stop();
  });

  test("a link set down loses its default route unannounced: back up, the burst waits for the route", async () => {
    const w = fedWatch({ quietMs: 1500, settledQuietMs: 20, maxWaitMs: 5000 });
    w.feed(link(2, "wlan0", false));
    while (w.decisions.length < 1) await Bun.sleep(50);
    expect(w.decisions[0]).toEqual(["wlan0 went down"]);
    // The kernel announced no removal of the default route; up again, the link has none.
    w.feed(link(2, "wlan0", true));
    await Bun.sleep(300);
    expect(w.decisions).toHaveLength(1);
    w.feed(route("0.0.0.0/0", 2, { gateway: "192.168.1.1" }));
    await Bun.sleep(300);
    expect(w.decisions[1]).toEqual(["wlan0 went up", "IPv4 default route via 192.168.1.1 on wlan0 added"]);
    w.watch.stop();
  });

  test("a loss in a burst of more than four reasons is still named, first", async () => {
    const w = fedWatch();
    for (let i = 0; i < 6; i++) w.feed(addr(2, `10.2.${i}.2/24`));
    w.lose("No buffer space available");
    await w.settle();
    expect(w.decisions).toHaveLength(1);
    expect(w.decisions[0]![0]).toBe("network notifications were lost");
    expect(w.decisions[0]).toContain("and more");
    w.watch.stop();
  });

  test("onChanging comes at once with a burst's first relevant notification, onChange after it", async () => {
    const events: string[] = [];
    const w = fedWatch({
      onChanging: () => events.push("changing"),
      onChange: () => events.push("change"),
    });
    w.feed(link(2, "wlan0", true, 1400));
    expect(events).toEqual([]);
    w.feed(addr(2, "10.3.0.2/24"));
    w.feed(addr(2, "10.3.1.2/24"));
    expect(events).toEqual(["changing"]);
    await w.settle();
    expect(events).toEqual(["changing", "change"]);
    w.feed(addr(2, "10.3.2.2/24"));
    expect(events).toEqual(["changing", "change", "changing"]);
    w.watch.stop();
  });

  test("an onChanging that throws is logged; the burst still ends in one change", async () => {
    const w = fedWatch({
      onChanging: () => {
        throw new Error("boom");
      },
    });
    w.feed(addr(2, "10.4.0.2/24"));
    await w.settle();
    expect(w.decisions).toEqual([["address 10.4.0.2/24 added on wlan0"]]);
    w.watch.stop();
  });

  test("a listener that throws is logged; the watch goes on", async () => {
    let calls = 0;
    const w = fedWatch({
      onChange: () => {
        calls++;
        throw new Error("boom");
      },
    });
    w.feed(addr(2, "10.2.0.2/24"));
    await w.settle();
    w.feed(addr(2, "10.3.0.2/24"));
    await w.settle();
    expect(calls).toBe(2);
    w.watch.stop();
  });
});
