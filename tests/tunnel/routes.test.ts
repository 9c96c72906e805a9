// Route ownership: 500 routes added and removed through setRoutes with nothing left behind, routes
// of others left alone, and a leftover interface of an earlier run removed by cleanupStale.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import type { RouteChanges } from "../../lib/wireguard/index.ts";
import { CLIENT_V4, CLIENT_V6, Lab, type TunnelHost } from "./_lab.ts";

const lab = new Lab();
let host: TunnelHost;

const v4 = (i: number) => `10.${100 + (i >> 8)}.${i & 0xff}.0/24`;
const v6 = (i: number) => `fd42:${(i + 1).toString(16)}::/64`;
const routeSet = (from: number, to: number) => {
  const out: string[] = [];
  for (let i = from; i < to; i++) out.push(v4(i), v6(i));
  return out;
};

const ourRoutes = (): string[] =>
  [
    ...JSON.parse(lab.inClient(["ip", "-j", "-4", "route", "show", "table", "all", "proto", "122"])),
    ...JSON.parse(lab.inClient(["ip", "-j", "-6", "route", "show", "table", "all", "proto", "122"])),
  ].map((r: { dst: string }) => r.dst);
const openFds = () => readdirSync(`/proc/${host.proc.pid}/fd`).length;

beforeAll(async () => {
  lab.setUp();
  host = await lab.startHost();
});
afterAll(async () => {
  await lab.tearDown();
});

describe("routes", () => {
  test("cleanupStale removes a leftover interface of an earlier run even without wireguard-go", async () => {
    lab.inClient(["ip", "tuntap", "add", "dev", lab.tunName, "mode", "tun"]);
    const removed = await host.call<string[]>("cleanupStale");
    expect(removed).toEqual([`interface ${lab.tunName}`]);
    expect(lab.inClient(["ip", "-j", "link"])).not.toContain(lab.tunName);
  });

  test("up() over an interface that exists already fails with AlreadyExistsError naming cleanupStale", async () => {
    lab.inClient(["ip", "tuntap", "add", "dev", lab.tunName, "mode", "tun"]);
    const err = (await host
      .call("up", { privateKey: lab.clientKeys.privateKey, addresses: [CLIENT_V4] })
      .then(
        () => null,
        (e: unknown) => e,
      )) as Error & { errorClass?: string };
    expect(err.errorClass).toBe("AlreadyExistsError");
    expect(err.message).toContain("cleanupStale()");
    expect(await host.call<string[]>("cleanupStale")).toEqual([]);
  });

  test("500 routes come and go through setRoutes and none is left", async () => {
    await host.call("up", { privateKey: lab.clientKeys.privateKey, addresses: [CLIENT_V4, CLIENT_V6] });
    const fdsBefore = openFds();
    const first = routeSet(0, 250);
    const a = await host.call<RouteChanges>("setRoutes", first);
    expect(a.added).toHaveLength(500);
    expect(ourRoutes().sort()).toEqual(first.slice().sort());

    // Half stay, half go, 250 new ones come.
    const second = routeSet(125, 375);
    const b = await host.call<RouteChanges>("setRoutes", second);
    expect(b.added).toHaveLength(250);
    expect(b.removed).toHaveLength(250);
    expect(ourRoutes().sort()).toEqual(second.slice().sort());

    const unchanged = await host.call<RouteChanges>("setRoutes", second);
    expect(unchanged).toEqual({ added: [], removed: [], conflicts: [], skipped: [] });

    const c = await host.call<RouteChanges>("setRoutes", []);
    expect(c.removed).toHaveLength(500);
    expect(ourRoutes()).toEqual([]);
    expect(openFds()).toBe(fdsBefore);
  });

  test("a destination someone else routes already is reported and left alone", async () => {
    lab.inClient(["ip", "route", "add", "10.60.0.0/24", "dev", "lo"]);
    const r = await host.call<RouteChanges>("setRoutes", ["10.60.0.0/24", "10.61.0.0/24"]);
    expect(r.conflicts).toEqual(["10.60.0.0/24"]);
    expect(r.added).toEqual(["10.61.0.0/24"]);
    await host.call("setRoutes", []);
    await host.call("down");
    const left = JSON.parse(lab.inClient(["ip", "-j", "route", "show", "10.60.0.0/24"]));
    expect(left).toHaveLength(1);
    expect(left[0].dev).toBe("lo");
  });

  test("host-bit notation is normalised: 10.62.0.9/24 is the route 10.62.0.0/24", async () => {
    await host.call("up", { privateKey: lab.clientKeys.privateKey, addresses: [CLIENT_V4] });
    const r = await host.call<RouteChanges>("setRoutes", ["10.62.0.9/24"]);
    expect(r.added).toEqual(["10.62.0.0/24"]);
    expect(ourRoutes()).toEqual(["10.62.0.0/24"]);
    await host.call("down");
    expect(ourRoutes()).toEqual([]);
  });

  test("with IPv6 switched off (as in many containers) the tunnel comes up on IPv4 and skips IPv6 routes", async () => {
    lab.inClient([
      "sysctl",
      "-qw",
      "net.ipv6.conf.all.disable_ipv6=1",
      "net.ipv6.conf.default.disable_ipv6=1",
    ]);
    try {
      await host.call("up", { privateKey: lab.clientKeys.privateKey, addresses: [CLIENT_V4, CLIENT_V6] });
      const r = await host.call<RouteChanges>("setRoutes", ["10.63.0.0/24", "fd63::/64"]);
      expect(r.added).toEqual(["10.63.0.0/24"]);
      expect(r.skipped).toEqual(["fd63::/64"]);
      const [link] = JSON.parse(lab.inClient(["ip", "-j", "addr", "show", "dev", lab.tunName]));
      expect(link.addr_info.map((a: { local: string }) => a.local)).toEqual(["100.64.0.2"]);
      await host.call("down");
    } finally {
      lab.inClient([
        "sysctl",
        "-qw",
        "net.ipv6.conf.all.disable_ipv6=0",
        "net.ipv6.conf.default.disable_ipv6=0",
      ]);
    }
  });
});
