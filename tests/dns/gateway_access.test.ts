// The gateway's policy for DNS resources (devstack/gateway/access.ts): a client gets a name's DNAT
// only under a resource whose pattern covers the name, and its filter allows exactly the real
// addresses its names are translated to (the filter sees packets after the DNAT).
import { describe, expect, test } from "bun:test";
import * as v from "valibot";
import { AccessTable } from "../../devstack/gateway/access.ts";
import { protocol } from "../../lib/portal/index.ts";

const alice = { id: "c1", public_key: `${"A".repeat(42)}A=`, ipv4: "100.64.0.2", ipv6: "fd00:2021:1111::2" };
const bob = { id: "c2", public_key: `${"B".repeat(42)}A=`, ipv4: "100.64.0.3", ipv6: "fd00:2021:1111::3" };
const corp = { id: "r-dns", type: "dns" as const, address: "*.corp.example" };
const app = { name: "app.corp.example", proxy_ipv4: "100.96.0.1", proxy_ipv6: "fd00:2021:1111:8000::1" };
const REAL: Record<string, { v4: string | null; v6: string | null }> = {
  "100.64.0.2|100.96.0.1": { v4: "10.9.0.10", v6: "fd09::10" },
};
const realOf = (c: string, p: string) => REAL[`${c}|${p}`] ?? null;

describe("dns resources in the gateway's access table", () => {
  test("a mapping under a covering pattern: DNAT for that client, its filter allows the real addresses", () => {
    const t = new AccessTable();
    t.allow(alice, { ...corp, dns: app });
    t.allow(bob, { id: "r-ip", type: "ip", address: "10.9.0.20" });
    expect(t.dnsMappings()).toEqual([
      {
        clientV4: alice.ipv4,
        clientV6: alice.ipv6,
        proxyV4: "100.96.0.1",
        proxyV6: "fd00:2021:1111:8000::1",
        name: "app.corp.example",
      },
    ]);
    expect(t.rules(realOf)).toEqual([
      { family: "ip", source: alice.ipv4, destinations: ["10.9.0.10/32"] },
      { family: "ip6", source: alice.ipv6, destinations: ["fd09::10/128"] },
      { family: "ip", source: bob.ipv4, destinations: ["10.9.0.20/32"] },
    ]);
    // Not resolved yet: nothing is allowed for the name (and nothing else either).
    expect(t.rules(() => null).filter((r) => r.source === alice.ipv4)).toEqual([]);
  });

  test("a name outside the resource's pattern is refused and changes nothing", () => {
    const t = new AccessTable();
    expect(() =>
      t.allow(alice, { ...corp, dns: { ...app, name: "secret.other.example", proxy_ipv4: "100.96.0.9" } }),
    ).toThrow("not covered by resource r-dns");
    expect(() => t.allow(alice, { ...corp, dns: { ...app, name: "a.b.corp.example" } })).toThrow(
      "not covered",
    );
    expect(t.dnsMappings()).toEqual([]);
  });

  test("reject_access removes the resource's mappings", () => {
    const t = new AccessTable();
    t.allow(alice, { ...corp, dns: app });
    t.allow(alice, {
      ...corp,
      dns: {
        ...app,
        name: "db.corp.example",
        proxy_ipv4: "100.96.0.2",
        proxy_ipv6: "fd00:2021:1111:8000::2",
      },
    });
    expect(t.dnsMappings().map((m) => m.name)).toEqual(["app.corp.example", "db.corp.example"]);
    t.reject(alice.id, corp.id);
    expect(t.dnsMappings()).toEqual([]);
  });

  test("allow_access and request_connection carry a dns mapping only with a host name and proxy addresses from the proxy ranges", () => {
    const base = { reference: "r", client: alice };
    const ok = { ...base, resource: { ...corp, dns: app } };
    expect(v.safeParse(protocol.gateway.fromPortal.allow_access, ok).success).toBe(true);
    for (const bad of [
      { ...app, proxy_ipv4: "10.0.0.1" },
      { ...app, proxy_ipv6: "fd00::1" },
      { ...app, name: "app.corp.example; drop" },
      { ...app, name: "APP.corp.example" },
    ]) {
      expect(
        v.safeParse(protocol.client.fromMember.request_connection.payload, { resource_id: "r", dns: bad })
          .success,
      ).toBe(false);
      expect(
        v.safeParse(protocol.gateway.fromPortal.allow_access, { ...base, resource: { ...corp, dns: bad } })
          .success,
      ).toBe(false);
    }
  });
});
