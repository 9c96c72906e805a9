import { describe, expect, test } from "bun:test";
import * as v from "valibot";
import { peerChanges, planTunnel } from "../../lib/daemon/index.ts";
import { type ConnectionDetails, protocol } from "../../lib/portal/index.ts";

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
