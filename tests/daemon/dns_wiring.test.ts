// The daemon's DNS wiring that needs no network: the dns_control setting, the portal's upstream
// list parsed at the boundary, proxy addresses in the tunnel plan, and the status line.
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as v from "valibot";
import { formatStatus } from "../../lib/cli/status.ts";
import {
  addDnsProxies,
  DNS_PROXY_RANGES,
  loadDaemonConfig,
  planTunnel,
  readConfigFile,
  upstreamsFromPortal,
} from "../../lib/daemon/index.ts";
import { type ConnectionDetails, protocol } from "../../lib/portal/index.ts";
import { createLogger } from "../../lib/util/index.ts";

const dir = mkdtempSync(join(tmpdir(), "fz-dnsw-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function conf(text: string): string {
  const path = join(dir, `c${++n}.conf`);
  writeFileSync(path, text);
  chmodSync(path, 0o644);
  return path;
}

describe("dns_control in firezoned.conf", () => {
  test("each mode is taken; auto and no line both mean detect", () => {
    for (const mode of ["systemd-resolved", "resolv-conf", "off"] as const)
      expect(loadDaemonConfig({ FIREZONE_CONFIG: conf(`dns_control = ${mode}\n`) }).dnsControl).toBe(mode);
    expect(loadDaemonConfig({ FIREZONE_CONFIG: conf("dns_control = auto\n") }).dnsControl).toBeUndefined();
    expect(loadDaemonConfig({ FIREZONE_CONFIG: conf("log_level = info\n") }).dnsControl).toBeUndefined();
  });

  test("a bad value names the line and the values it takes", () => {
    const r = readConfigFile(conf("\ndns_control = networkmanager\n"));
    expect(r.status === "invalid" && r.message).toContain(
      "line 2: dns_control 'networkmanager' is not one of auto, systemd-resolved, resolv-conf, off",
    );
  });
});

test("the portal's upstream_dns: addresses kept (canonical, no duplicates), anything else skipped", () => {
  const lines: string[] = [];
  const log = createLogger({ name: "t", level: "warn", write: (l) => lines.push(l) });
  expect(
    upstreamsFromPortal(
      ["1.1.1.1", "2606:4700:4700:0::1111", "1.1.1.1", "evil.example", "1.1.1.1:53\n"],
      log,
    ),
  ).toEqual([
    { address: "1.1.1.1", port: 53 },
    { address: "2606:4700:4700::1111", port: 53 },
  ]);
  expect(lines.length).toBe(2);
});

describe("proxy addresses in the tunnel plan", () => {
  const KEY_A = `${"A".repeat(42)}A=`;
  const KEY_B = `${"B".repeat(42)}A=`;
  const details = (resource: string, key: string, allowed: string[]): ConnectionDetails =>
    v.parse(protocol.client.fromPortal.connection_details, {
      resource_id: resource,
      site_id: "site",
      gateway_id: key === KEY_A ? "gw-a" : "gw-b",
      gateway_public_key: key,
      gateway_endpoint: "10.0.0.1:51820",
      gateway_ipv4: "100.64.0.1",
      gateway_ipv6: "fd00:2021:1111::1",
      allowed_ips: allowed,
    });

  test("each proxy address goes to the peer of the gateway serving its resource; the ranges are routed", () => {
    const list = [
      details("res-cidr", KEY_A, ["10.1.0.0/16"]),
      details("res-dns", KEY_A, []),
      details("res-dns2", KEY_B, []),
    ];
    const proxies: Record<string, string[]> = {
      "res-dns": ["100.96.0.1/32", "fd00:2021:1111:8000::1/128"],
      "res-dns2": ["100.96.0.2/32"],
    };
    const plan = addDnsProxies(planTunnel(list), list, (id) => proxies[id] ?? [], DNS_PROXY_RANGES);
    expect(plan.peers.get(KEY_A)?.allowedIps.sort()).toEqual(
      ["10.1.0.0/16", "100.96.0.1/32", "fd00:2021:1111:8000::1/128"].sort(),
    );
    expect(plan.peers.get(KEY_B)?.allowedIps).toEqual(["100.96.0.2/32"]);
    expect(plan.routes.sort()).toEqual(["10.1.0.0/16", ...DNS_PROXY_RANGES].sort());
  });

  test("without DNS nothing changes", () => {
    const list = [details("res-cidr", KEY_A, ["10.1.0.0/16"])];
    const plan = addDnsProxies(planTunnel(list), list, () => [], []);
    expect(plan.routes).toEqual(["10.1.0.0/16"]);
  });
});

test("firezonectl status shows the DNS mode, the stub's addresses and the upstreams", () => {
  const base = {
    state: "connected" as const,
    mode: "interactive" as const,
    daemonVersion: "1.0.0",
    protocol: 1,
    pid: 1,
    uptimeSeconds: 5,
    resourceCount: 1,
  };
  expect(
    formatStatus({
      ...base,
      dnsMode: "resolv-conf",
      dnsServers: ["100.100.111.1", "fd00:2021:1111:8000:100:100:111:1"],
      dnsUpstreams: ["10.0.0.53"],
    }),
  ).toContain(
    "  DNS:        resolv-conf: 100.100.111.1 fd00:2021:1111:8000:100:100:111:1 (upstream 10.0.0.53)",
  );
  expect(formatStatus(base)).not.toContain("DNS:");
});
