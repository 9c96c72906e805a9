// Policy routing with real parts (two namespaces, wireguard-go on both sides): the tunnel's socket is
// marked, resource routes live in the client's own table, and a rule sends only unmarked traffic
// there. So even a route covering the gateway's endpoint leaves WireGuard's own UDP on the uplink.
// Rules, table and routes go on down(), and a SIGKILLed owner's are removed by the next start while
// a second tunnel with another name in the same namespace is left alone.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { CLIENT_FWMARK, CLIENT_RULE_PRIORITY, clientPolicy } from "../../lib/wireguard/index.ts";
import {
  CLIENT_V4,
  CLIENT_V6,
  GATEWAY_UNDERLAY,
  Lab,
  RESOURCE_V4,
  runIn,
  type TunnelHost,
  tryRun,
} from "./_lab.ts";

const lab = new Lab();
const MARK = `0x${CLIENT_FWMARK.toString(16)}`;
const table = clientPolicy(lab.tunName).table;
// The client's uplink network (192.0.2.0/24) holds the gateway's endpoint 192.0.2.2.
const COVERING = ["192.0.2.0/24", "10.99.0.0/24", "fd99::/64"];

beforeAll(() => {
  lab.setUp();
});
afterAll(async () => {
  await lab.tearDown();
});

type IpRule = { priority: number; not?: null; fwmark?: string; table: string; protocol?: string };
const rules = (family: "-4" | "-6", tableId = table): IpRule[] =>
  (JSON.parse(lab.inClient(["ip", "-j", family, "rule", "show"])) as IpRule[]).filter(
    (r) => r.table === String(tableId),
  );
const tableRoutes = (tableId = table): string[] =>
  [
    ...JSON.parse(lab.inClient(["ip", "-j", "-4", "route", "show", "table", String(tableId)])),
    ...JSON.parse(lab.inClient(["ip", "-j", "-6", "route", "show", "table", String(tableId)])),
  ].map((r: { dst: string }) => r.dst);
const routeGet = (...args: string[]): { dev: string } =>
  JSON.parse(lab.inClient(["ip", "-j", "route", "get", ...args]))[0];
const ping = async () =>
  (await runIn(lab.client, ["ping", "-c", "2", "-i", "0.2", "-W", "2", RESOURCE_V4])).out;
const wireguardGoPids = () =>
  tryRun(["ip", "netns", "pids", lab.client])
    .out.split(/\s+/)
    .filter(Boolean)
    .filter((pid) => tryRun(["cat", `/proc/${pid}/comm`]).out.trim() === "wireguard-go");

async function bringUp(host: TunnelHost): Promise<void> {
  await host.call("cleanupStale");
  await host.call("up", { privateKey: lab.clientKeys.privateKey, addresses: [CLIENT_V4, CLIENT_V6] });
  await host.call("setPeers", [lab.gatewayPeer(COVERING)], { replace: true });
  await host.call("setRoutes", COVERING);
}

describe("policy routing", () => {
  test("a route covering the gateway endpoint: WireGuard's marked UDP still leaves by the uplink and the resource answers", async () => {
    const host = await lab.startHost({ POLICY: "client" });
    await bringUp(host);
    const uplink = `vc-${lab.id}`;
    // Unmarked traffic to the endpoint's network goes into the tunnel (the route asks for it) ...
    expect(routeGet(GATEWAY_UNDERLAY).dev).toBe(lab.tunName);
    // ... but the tunnel's own packets carry the mark and take the main table.
    expect(routeGet(GATEWAY_UNDERLAY, "mark", MARK).dev).toBe(uplink);
    expect(lab.inClient(["wg", "show", lab.tunName, "fwmark"]).trim()).toBe(MARK);
    expect(await ping()).toContain("2 received");
    const handshake = lab.inClient(["wg", "show", lab.tunName, "latest-handshakes"]).trim().split(/\s+/)[1];
    expect(Number(handshake)).toBeGreaterThan(0);
    expect(routeGet(RESOURCE_V4).dev).toBe(lab.tunName);
    await host.call("down");
    host.proc.kill();
  });

  test("routes live in the client's own table, never in main, with one rule per family", async () => {
    const host = await lab.startHost({ POLICY: "client" });
    await bringUp(host);
    expect((await host.call<{ table: number }>("info")).table).toBe(table);
    expect(tableRoutes().sort()).toEqual(COVERING.slice().sort());
    expect(JSON.parse(lab.inClient(["ip", "-j", "route", "show", "table", "main", "proto", "122"]))).toEqual(
      [],
    );
    for (const family of ["-4", "-6"] as const)
      expect(rules(family)).toEqual([
        {
          priority: CLIENT_RULE_PRIORITY,
          not: null,
          fwmark: MARK,
          table: String(table),
          protocol: "122",
          src: "all",
        } as IpRule,
      ]);
    await host.call("down");
    expect(rules("-4")).toEqual([]);
    expect(rules("-6")).toEqual([]);
    expect(tableRoutes()).toEqual([]);
    expect(routeGet(GATEWAY_UNDERLAY).dev).toBe(`vc-${lab.id}`);
    host.proc.kill();
  });

  test("a SIGKILLed owner's rules, table and wireguard-go are removed by the next start; a second tunnel with another name is left alone", async () => {
    const other = await lab.startHost({ POLICY: "client", TUN_NAME: `tun-fo${lab.id}` });
    const otherTable = clientPolicy(`tun-fo${lab.id}`).table;
    expect(otherTable).not.toBe(table);
    await other.call("up", { privateKey: lab.gatewayKeys.privateKey, addresses: ["100.64.0.9/32"] });
    await other.call("setRoutes", ["10.98.0.0/24"]);
    const otherPid = (await other.call<{ backendPid: number }>("info")).backendPid;

    const first = await lab.startHost({ POLICY: "client" });
    await bringUp(first);
    expect(await ping()).toContain("2 received");
    first.proc.kill("SIGKILL");
    await first.proc.exited;
    // What the dead process left: its wireguard-go keeps the device; rules and routes stay in force.
    expect(wireguardGoPids()).toHaveLength(2);
    expect(rules("-4")).toHaveLength(1);
    expect(tableRoutes().length).toBeGreaterThan(0);
    // A route of ours without a device, as an interrupted run could leave in our table.
    lab.inClient(["ip", "route", "add", "blackhole", "10.97.0.0/16", "table", String(table), "proto", "122"]);

    const second = await lab.startHost({ POLICY: "client" });
    const removed = await second.call<string[]>("cleanupStale");
    expect(removed).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^wireguard-go pid \d+$/),
        "route 10.97.0.0/16",
        "IPv4 rule 6410",
        "IPv6 rule 6410",
      ]),
    );
    expect(removed).not.toContain(`wireguard-go pid ${otherPid}`);
    expect(rules("-4")).toEqual([]);
    expect(rules("-6")).toEqual([]);
    expect(tableRoutes()).toEqual([]);
    // The other tunnel: its wireguard-go, its rules and its routes are all still there.
    expect(wireguardGoPids()).toEqual([String(otherPid)]);
    expect(rules("-4", otherTable)).toHaveLength(1);
    expect(rules("-6", otherTable)).toHaveLength(1);
    expect(tableRoutes(otherTable)).toEqual(["10.98.0.0/24"]);

    await bringUp(second);
    expect(await ping()).toContain("2 received");
    await second.call("down");
    await other.call("down");
    expect(rules("-4", otherTable)).toEqual([]);
  });
});
