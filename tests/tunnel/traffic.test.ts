// The project's Tunnel (wireguard-go backend) in a "client" namespace against a gateway set up only
// with `ip`, `wg` and wireguard-go: ping and a TCP transfer pass with matching checksums, and what
// `ip -j` and `wg show dump` report is what the Tunnel was asked for.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { PeerStats } from "../../lib/wireguard/index.ts";
import {
  CLIENT_V4,
  CLIENT_V6,
  Lab,
  RESOURCE_V4,
  RESOURCE_V6,
  runIn,
  type TunnelHost,
  transferThroughTunnel,
} from "./_lab.ts";

const lab = new Lab();
let host: TunnelHost;
const routes = ["10.99.0.0/24", "fd99::/64"];

beforeAll(async () => {
  lab.setUp();
  host = await lab.startHost();
  await host.call("cleanupStale");
  await host.call("up", { privateKey: lab.clientKeys.privateKey, addresses: [CLIENT_V4, CLIENT_V6] });
  await host.call("setPeers", [lab.gatewayPeer(routes)], { replace: true });
  await host.call("setRoutes", routes);
});

afterAll(async () => {
  await lab.tearDown();
});

describe("a userspace tunnel against an independent WireGuard peer", () => {
  test("IPv4 and IPv6 pings to the resource behind the gateway get replies", async () => {
    const v4 = await runIn(lab.client, ["ping", "-c", "3", "-i", "0.2", "-W", "2", RESOURCE_V4]);
    expect(v4.out).toContain("3 received");
    const v6 = await runIn(lab.client, ["ping", "-c", "3", "-i", "0.2", "-W", "2", RESOURCE_V6]);
    expect(v6.out).toContain("3 received");
  });

  test("8 MiB over TCP arrive with the same SHA-256 they were sent with", async () => {
    const t = await transferThroughTunnel(lab, 8);
    expect(t.code).toBe(0);
    expect(t.sent).toMatch(/^8388608 [0-9a-f]{64}$/);
    expect(t.received).toBe(t.sent);
  });

  test("ip -j shows the interface up with MTU 1280 and exactly the addresses asked for", () => {
    const [link] = JSON.parse(lab.inClient(["ip", "-j", "addr", "show", "dev", lab.tunName]));
    expect(link.mtu).toBe(1280);
    expect(link.flags).toContain("UP");
    const global = link.addr_info
      .filter((a: { scope: string }) => a.scope === "global")
      .map((a: { local: string; prefixlen: number }) => `${a.local}/${a.prefixlen}`)
      .sort();
    expect(global).toEqual([CLIENT_V4, CLIENT_V6].sort());
  });

  test("ip -j route shows the routes through the tunnel, marked with the tunnel's protocol", () => {
    const v4 = JSON.parse(lab.inClient(["ip", "-j", "route", "show", "dev", lab.tunName, "proto", "122"]));
    const v6 = JSON.parse(
      lab.inClient(["ip", "-j", "-6", "route", "show", "dev", lab.tunName, "proto", "122"]),
    );
    expect([...v4, ...v6].map((r: { dst: string }) => r.dst).sort()).toEqual(routes.slice().sort());
  });

  test("wg show dump reports our key, the gateway peer, its endpoint and allowed IPs", () => {
    const lines = lab.inClient(["wg", "show", lab.tunName, "dump"]).trim().split("\n");
    const [iface, peer] = lines.map((l) => l.split("\t"));
    expect(iface![0]).toBe(lab.clientKeys.privateKey);
    expect(iface![1]).toBe(lab.clientKeys.publicKey);
    expect(peer![0]).toBe(lab.gatewayKeys.publicKey);
    expect(peer![2]).toBe("192.0.2.2:51820");
    expect(peer![3]!.split(",").sort()).toEqual(routes.slice().sort());
    expect(peer![7]).toBe("25");
  });

  test("stats report a recent handshake and the bytes that flowed", async () => {
    const [s] = await host.call<PeerStats[]>("stats");
    expect(s!.publicKey).toBe(lab.gatewayKeys.publicKey);
    expect(s!.lastHandshakeAgeMs).not.toBeNull();
    expect(s!.lastHandshakeAgeMs!).toBeLessThan(60_000);
    expect(s!.txBytes).toBeGreaterThan(8 * 1024 * 1024);
    expect(s!.rxBytes).toBeGreaterThan(0);
  });

  test("setPeers without replace adds a peer; with replace only the listed peers remain", async () => {
    const extra = {
      publicKey: lab.gatewayKeys.publicKey.replace(/^./, (c) => (c === "A" ? "B" : "A")),
      allowedIps: ["10.98.0.0/24"],
    };
    await host.call("setPeers", [extra]);
    expect(lab.inClient(["wg", "show", lab.tunName, "peers"]).trim().split("\n")).toHaveLength(2);
    await host.call("setPeers", [lab.gatewayPeer(routes)], { replace: true });
    expect(lab.inClient(["wg", "show", lab.tunName, "peers"]).trim()).toBe(lab.gatewayKeys.publicKey);
  });

  test("down removes the interface, its routes and wireguard-go", async () => {
    const { backendPid } = await host.call<{ backendPid: number }>("info");
    await host.call("down");
    expect(lab.inClient(["ip", "-j", "link"])).not.toContain(lab.tunName);
    expect(lab.inClient(["ip", "-j", "route", "show", "proto", "122"]).trim()).toBe("[]");
    expect(() => process.kill(backendPid, 0)).toThrow();
  });
});
