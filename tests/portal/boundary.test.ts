// The portal is untrusted input: what its frames become where they enter the daemon. Addresses,
// prefixes, endpoints and keys turn into typed canonical values or are refused; every string and
// list is bounded; one bad resource costs only itself; interface addresses must come from the pools.
import { describe, expect, test } from "bun:test";
import * as v from "valibot";
import { tunnelAddresses } from "../../devstack/shared/ip.ts";
import { LIMITS, parseInterface, protocol } from "../../lib/portal/index.ts";
import {
  displayText,
  parseEndpointValue,
  parseIpAddr,
  parseIpPrefix,
  parseText,
} from "../../lib/util/index.ts";
import { encodeUapiSet } from "../../lib/wireguard/index.ts";

const KEY = `${"A".repeat(42)}E=`;
const site = { id: "s1", name: "hq" };
const init = (resources: unknown[], iface: unknown = { ipv4: "100.64.0.3", ipv6: "fd00:2021:1111::3" }) =>
  v.parse(protocol.client.fromPortal.init, {
    interface: iface,
    resources,
    account: { id: "a1", slug: "acme", name: "Acme" },
    actor: { id: "u1", name: "alice", type: "user" },
  });
const details = (over: Record<string, unknown> = {}) =>
  v.safeParse(protocol.client.fromPortal.connection_details, {
    resource_id: "r1",
    site_id: "s1",
    gateway_id: "g1",
    gateway_public_key: KEY,
    gateway_endpoint: "10.77.2.2:51820",
    gateway_ipv4: "100.64.0.1",
    gateway_ipv6: "fd00:2021:1111::1",
    allowed_ips: ["172.31.0.10/32"],
    ...over,
  });

describe("typed values", () => {
  test("addresses, prefixes and endpoints come out canonical, so equal values compare equal", () => {
    expect(parseIpAddr("FD00:0:0::1")).toBe(parseIpAddr("fd00::1"));
    expect(parseIpPrefix("10.1.2.3/8")).toBe(parseIpPrefix("10.0.0.0/8"));
    expect(parseIpPrefix("fd00:2021:1111::5/107") as string).toBe("fd00:2021:1111::/107");
    expect(parseEndpointValue("[FD00::1]:51820") as string).toBe("[fd00::1]:51820");
  });

  test("anything else is refused with the bad text quoted and escaped", () => {
    for (const bad of ["10.0.0.256", "10.0.0.1 ", "1.2.3.4\n", "010.0.0.1", "x".repeat(100)])
      expect(() => parseIpAddr(bad)).toThrow(/not an IPv4 or IPv6 address/);
    for (const bad of ["10.0.0.0", "10.0.0.0/33", "fd00::/129", " 10.0.0.0/8", "10.0.0.0/8\n"])
      expect(() => parseIpPrefix(bad)).toThrow(/not a CIDR prefix/);
    for (const bad of [
      "10.77.2.2:51820\nprivate_key=0000",
      "10.77.2.2",
      "10.77.2.2:0",
      "10.77.2.2:65536",
      "fd00::1:51820",
      "[10.0.0.1]:1",
    ])
      expect(() => parseEndpointValue(bad)).toThrow(/not an endpoint/);
    expect(() => parseIpAddr("1.2.3.4\x1b[2J")).toThrow(/\\u001b/);
  });

  test("text from outside is bounded and holds no control or bidi characters", () => {
    expect(parseText("wiki ✓", { what: "name", max: 256 })).toBe("wiki ✓");
    expect(() => parseText("", { what: "name", max: 256 })).toThrow(/name is empty/);
    expect(() => parseText("x".repeat(257), { what: "name", max: 256 })).toThrow(/257 characters/);
    for (const bad of ["a\x1b[31mred", "a\nb", "a\x7f", "a\u0085", "exe\u202etxt.", "a\u2066b"])
      expect(() => parseText(bad, { what: "name", max: 256 })).toThrow(/control characters/);
  });

  test("displayText makes every control, C1 and bidi character a visible escape", () => {
    expect(displayText("\x1b[2Jhi\u009b\u202e\x07\\")).toBe("\\x1b[2Jhi\\x9b\\u202e\\x07\\");
    expect(displayText("plain ünïcode ✓")).toBe("plain ünïcode ✓");
    expect(displayText("x".repeat(20), 5)).toBe("xxxxx...");
  });
});

describe("init", () => {
  test("unknown and invalid resources are skipped one by one and the valid ones kept", () => {
    const msg = init([
      { id: "r1", name: "web", type: "ip", address: "172.31.0.10", site },
      { id: "r2", name: "future", type: "quantum", address: "?", site },
      { id: "r3", name: "bad cidr", type: "cidr", address: "10.0.0.0/99", site },
      { id: "r4", name: "dns", type: "dns", address: "*.Corp.Example.com", site },
      { id: "r5", name: "internet", type: "internet", site },
      { id: "r6", name: "x".repeat(1_100_000), type: "ip", address: "172.31.0.11", site },
      { id: "r7", name: "evil\x1b]0;owned\x07", type: "ip", address: "172.31.0.12", site },
      "not even an object",
    ]);
    const [web, future, bad, dns, internet, huge, evil, junk] = msg.resources;
    expect(web).toEqual({
      ok: true,
      resource: { id: "r1", name: "web", type: "ip", address: "172.31.0.10", site },
    } as never);
    expect(future).toMatchObject({ ok: false, skipped: { id: "r2", name: "future" } });
    expect(future?.ok === false && future.skipped.reason).toBe('type "quantum" is not known to this client');
    expect(bad).toMatchObject({ ok: false, skipped: { id: "r3", reason: expect.stringContaining("CIDR") } });
    expect(dns).toMatchObject({ ok: true, resource: { type: "dns", address: "*.corp.example.com" } });
    expect(internet).toMatchObject({ ok: true, resource: { type: "internet" } });
    expect(huge).toMatchObject({
      ok: false,
      skipped: { id: "r6", reason: expect.stringContaining("1100000") },
    });
    expect(huge?.ok === false && huge.skipped.name).toBeUndefined();
    expect(evil).toMatchObject({ ok: false, skipped: { id: "r7" } });
    expect(evil?.ok === false && evil.skipped.reason).not.toContain("\x1b");
    expect(junk).toMatchObject({ ok: false });
  });

  test("a list longer than the cap is refused as a whole", () => {
    const many = Array.from({ length: LIMITS.resources + 1 }, () => ({}));
    expect(() => init(many)).toThrow();
  });

  test("interface addresses must lie in 100.64.0.0/11 and fd00:2021:1111::/107", () => {
    expect(parseInterface({ ipv4: "100.64.0.3", ipv6: "fd00:2021:1111::3" })).toMatchObject({ ok: true });
    expect(parseInterface({ ipv4: "100.95.255.254", ipv6: "fd00:2021:1111::1f:ffff" })).toMatchObject({
      ok: true,
    });
    expect(parseInterface({ ipv4: "198.51.100.7", ipv6: "fd00:2021:1111::3" })).toEqual({
      ok: false,
      reason: "the IPv4 address 198.51.100.7 is outside 100.64.0.0/11",
    });
    expect(parseInterface({ ipv4: "100.96.0.1", ipv6: "fd00:2021:1111::3" })).toMatchObject({ ok: false });
    expect(parseInterface({ ipv4: "100.64.0.3", ipv6: "fd00:2021:1111::20:0" })).toMatchObject({ ok: false });
    expect(parseInterface({ ipv4: "100.64.0.3", ipv6: "100.64.0.4" })).toMatchObject({ ok: false });
    expect(parseInterface({ ipv4: "100.64.0.3\nx", ipv6: "fd00:2021:1111::3" })).toMatchObject({ ok: false });
    // The devstack portal allocates inside the pools, from its first slot to its last.
    for (const slot of [1, 2, 2 ** 21 - 2])
      expect(parseInterface({ ...tunnelAddresses(slot), upstream_dns: [] })).toMatchObject({ ok: true });
    // The init itself still parses: the session shows why there is no tunnel.
    expect(init([], { ipv4: "198.51.100.7", ipv6: "fd00:2021:1111::3" }).interface.ok).toBe(false);
  });
});

describe("connection details", () => {
  test("a bad allowed IP is dropped and reported; the others are kept", () => {
    const d = details({ allowed_ips: ["172.31.0.10/32", "10.0.0.0/99", "fd00:31::/64", 7, "nope"] });
    if (!d.success) throw new Error(`details refused: ${d.issues[0]?.message}`);
    expect(d.output.allowed_ips).toEqual(["172.31.0.10/32", "fd00:31::/64"] as never);
    expect(d.output.rejected_allowed_ips).toHaveLength(3);
  });

  test("an endpoint carrying UAPI lines, or a bad key, fails the whole details", () => {
    expect(details({ gateway_endpoint: "10.77.2.2:51820\nprivate_key=00" }).success).toBe(false);
    expect(details({ gateway_public_key: "not a key" }).success).toBe(false);
    expect(details({ allowed_ips: Array(LIMITS.allowedIps + 1).fill("10.0.0.0/8") }).success).toBe(false);
  });
});

describe("UAPI", () => {
  test("an endpoint holding a newline and UAPI lines can never reach wireguard-go", () => {
    const attempt = () =>
      encodeUapiSet({
        peers: [{ publicKey: KEY, endpoint: `10.77.2.2:51820\nprivate_key=${"0".repeat(64)}\nfwmark=1` }],
      });
    expect(attempt).toThrow(/not an endpoint/);
    expect(() =>
      encodeUapiSet({ peers: [{ publicKey: KEY, allowedIps: ["10.0.0.0/8\nreplace_peers=true"] }] }),
    ).toThrow();
    expect(() => encodeUapiSet({ fwmark: 1.5 })).toThrow(/out of range/);
    expect(() => encodeUapiSet({ listenPort: 70000 })).toThrow(/out of range/);
  });

  test("bare addresses in allowed IPs are host prefixes, as wireguard-tools reads them", () => {
    expect(encodeUapiSet({ peers: [{ publicKey: KEY, allowedIps: ["10.0.0.1", "fd00::1"] }] })).toContain(
      "allowed_ip=10.0.0.1/32\nallowed_ip=fd00::1/128\n",
    );
  });
});
