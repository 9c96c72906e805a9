import { describe, expect, test } from "bun:test";
import * as v from "valibot";
import { excludeAddress, MAX_WARNINGS, peerChanges, planTunnel } from "../../lib/daemon/index.ts";
import { type ConnectionDetails, protocol } from "../../lib/portal/index.ts";
import { formatCidr, parseCidr } from "../../lib/util/index.ts";

const GW1 = `${"A".repeat(42)}E=`;
const GW2 = `${"B".repeat(42)}E=`;

function details(
  resource: string,
  gateway: string,
  allowed: string[],
  endpoint = "192.0.2.1:51820",
): ConnectionDetails {
  return v.parse(protocol.client.fromPortal.connection_details, {
    resource_id: resource,
    site_id: "site",
    gateway_id: gateway,
    gateway_public_key: gateway,
    gateway_endpoint: endpoint,
    gateway_ipv4: "100.64.0.1",
    gateway_ipv6: "fd00:2021:1111::1",
    allowed_ips: allowed,
  });
}

describe("tunnel plan", () => {
  test("one peer per gateway with the union of its resources, and a route for each destination", () => {
    const plan = planTunnel([
      details("r1", GW1, ["10.0.0.0/24"]),
      details("r2", GW1, ["10.0.1.5/32", "10.0.0.0/24"]),
      details("r3", GW2, ["172.16.0.0/16"]),
    ]);
    expect([...plan.peers.keys()]).toEqual([GW1, GW2]);
    expect(plan.peers.get(GW1)!.allowedIps.sort()).toEqual(["10.0.0.0/24", "10.0.1.5/32"]);
    expect(plan.routes.sort()).toEqual(["10.0.0.0/24", "10.0.1.5/32", "172.16.0.0/16"]);
  });

  test("an unchanged plan sends nothing, so established WireGuard sessions are left alone", () => {
    const plan = planTunnel([details("r1", GW1, ["10.0.0.0/24"])]);
    const first = peerChanges(new Map(), plan.peers);
    expect(first.changes).toHaveLength(1);
    expect(peerChanges(first.next, planTunnel([details("r1", GW1, ["10.0.0.0/24"])]).peers).changes).toEqual(
      [],
    );
  });

  test("a changed endpoint or allowed IP resends that peer only; a gateway without resources is removed", () => {
    const applied = peerChanges(
      new Map(),
      planTunnel([details("r1", GW1, ["10.0.0.0/24"]), details("r2", GW2, ["10.9.0.0/16"])]).peers,
    ).next;
    const moved = peerChanges(
      applied,
      planTunnel([details("r1", GW1, ["10.0.0.0/24"], "192.0.2.9:51820")]).peers,
    );
    expect(moved.changes).toEqual([
      expect.objectContaining({ publicKey: GW1, endpoint: "192.0.2.9:51820", replaceAllowedIps: true }),
      { publicKey: GW2, allowedIps: [], remove: true },
    ]);
  });
});

/** Whether `ip` falls inside any of `routes` (a plain bitwise check, independent of the planner). */
function routed(routes: string[], ip: string): boolean {
  const a = parseCidr(ip);
  return routes.some((r) => {
    const n = parseCidr(r);
    if (n.family !== a.family) return false;
    for (let bit = 0; bit < n.prefix; bit++) {
      const mask = 0x80 >> (bit & 7);
      if ((n.bytes[bit >> 3]! & mask) !== (a.bytes[bit >> 3]! & mask)) return false;
    }
    return true;
  });
}

describe("a route is never wider than its resource, nor covers the host's own paths", () => {
  test("a CIDR covering the gateway endpoint and the portal is split around both, with a warning for each", () => {
    const plan = planTunnel([details("r1", GW1, ["10.0.0.0/8"], "10.77.2.2:51820")], {
      protect: [{ address: "10.77.1.1", what: "the portal" }],
    });
    expect(routed(plan.routes, "10.77.2.2")).toBe(false);
    expect(routed(plan.routes, "10.77.1.1")).toBe(false);
    for (const ip of ["10.0.0.1", "10.77.2.1", "10.77.2.3", "10.77.1.2", "10.255.255.255", "10.77.0.5"])
      expect(routed(plan.routes, ip)).toBe(true);
    expect(routed(plan.routes, "11.0.0.0")).toBe(false);
    // 24 pieces around 10.77.2.2; one of them, 10.77.0.0/23, holds 10.77.1.1 and becomes 9.
    expect(plan.routes).toHaveLength(24 - 1 + 9);
    expect(plan.warnings).toEqual([
      "Resource 10.0.0.0/8 covers 10.77.2.2, a gateway's WireGuard endpoint: that address is left out of the tunnel's routes so it keeps its direct path.",
      "Resource 10.0.0.0/8 covers 10.77.1.1, the portal: that address is left out of the tunnel's routes so it keeps its direct path.",
    ]);
    // WireGuard still accepts the whole resource from the gateway; only routing is narrowed.
    expect(plan.peers.get(GW1)!.allowedIps).toEqual(["10.0.0.0/8"]);
  });

  test("IPv6 works the same way: fd00::/8 around an IPv6 portal address", () => {
    const plan = planTunnel([details("r1", GW1, ["fd00::/8"])], {
      protect: [{ address: "fd00:10::1", what: "the portal" }],
    });
    expect(plan.routes).toHaveLength(120);
    expect(routed(plan.routes, "fd00:10::1")).toBe(false);
    expect(routed(plan.routes, "fd00:10::2")).toBe(true);
    expect(routed(plan.routes, "fdff::1")).toBe(true);
  });

  test("a resource that is the endpoint itself is refused with a warning; the others still route", () => {
    const plan = planTunnel([
      details("r1", GW1, ["192.0.2.1/32"], "192.0.2.1:51820"),
      details("r2", GW1, ["10.1.0.0/16"], "192.0.2.1:51820"),
    ]);
    expect(plan.routes).toEqual(["10.1.0.0/16"]);
    expect(plan.peers.get(GW1)!.allowedIps).toEqual(["10.1.0.0/16"]);
    expect(plan.warnings).toEqual([
      "Resource 192.0.2.1/32 was not routed: it is 192.0.2.1, a gateway's WireGuard endpoint, which must keep its direct path or the tunnel would cut itself off.",
    ]);
  });

  test("0.0.0.0/0, the /1 halves and ::/0 are refused as CIDR resources, never a full tunnel", () => {
    const plan = planTunnel([
      details("r1", GW1, ["0.0.0.0/0", "0.0.0.0/1", "128.0.0.0/1", "::/0", "2000::/3", "10.5.0.0/16"]),
    ]);
    expect(plan.routes).toEqual(["10.5.0.0/16"]);
    expect(plan.peers.get(GW1)!.allowedIps).toEqual(["10.5.0.0/16"]);
    expect(plan.warnings).toHaveLength(5);
    for (const w of plan.warnings)
      expect(w).toMatch(
        /^Resource \S+ was not routed: a CIDR resource may be at most \/8 wide.*Internet Resource/,
      );
    expect(plan.warnings[0]).toContain("0.0.0.0/0");
    expect(plan.warnings[3]).toContain("::/0");
  });

  test("a /8 is allowed (an unparsable address never gets this far: the portal boundary drops it)", () => {
    const d = details("r1", GW1, ["10.0.0.0/8", "10.0.0.300/32"]);
    expect(d.rejected_allowed_ips).toHaveLength(1);
    const plan = planTunnel([d]);
    expect(plan.routes).toEqual(["10.0.0.0/8"]);
    expect(plan.warnings).toEqual([]);
  });

  test("5,000 refused resources: status gets a bounded list that counts the rest, the log gets all", () => {
    const wide = Array.from({ length: 5000 }, (_, i) => `${i % 128}.${i >> 7}.0.0/7`);
    // The portal boundary caps a details' allowed IPs at 256, so the 5,000 come in 20 resources.
    const plan = planTunnel([
      ...Array.from({ length: 20 }, (_, k) => details(`w${k}`, GW1, wide.slice(k * 250, (k + 1) * 250))),
      details("r1", GW1, ["10.5.0.0/16"]),
    ]);
    expect(plan.routes).toEqual(["10.5.0.0/16"]);
    expect(plan.warnings).toHaveLength(MAX_WARNINGS);
    expect(plan.warnings.at(-1)).toMatch(/^\d+ more resource addresses were narrowed or refused/);
    expect(plan.allWarnings.length).toBeGreaterThan(MAX_WARNINGS);
  });

  test("excludeAddress gives the exact complement", () => {
    expect(excludeAddress(parseCidr("10.0.0.0/30"), parseCidr("10.0.0.1")).map(formatCidr)).toEqual([
      "10.0.0.2/31",
      "10.0.0.0/32",
    ]);
  });
});
