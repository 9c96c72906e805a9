// The portal's search_domain, parsed where it enters (lib/portal/protocol.ts): typed, bounded,
// lower-cased, punycode; anything else leaves the tunnel working without it and says why. And
// firezonectl status shows it next to the DNS mode.
import { describe, expect, test } from "bun:test";
import { formatStatus } from "../../lib/cli/status.ts";
import { parseInterface } from "../../lib/portal/index.ts";

const ADDRESSES = { ipv4: "100.64.0.2", ipv6: "fd00:2021:1111::2" };
const parse = (search_domain: unknown) => parseInterface({ ...ADDRESSES, search_domain });

describe("interface.search_domain from the portal", () => {
  test("a domain name is kept lower-case, without its trailing dot", () => {
    expect(parse("Corp.Example.") as unknown).toEqual({
      ok: true,
      value: { ...ADDRESSES, upstream_dns: [], search_domain: "corp.example" },
    });
    expect(parse("_sites.corp-1.example")).toMatchObject({
      ok: true,
      value: { search_domain: "_sites.corp-1.example" },
    });
  });

  test("an internationalised domain is converted to punycode", () => {
    expect(parse("bücher.example")).toMatchObject({
      ok: true,
      value: { search_domain: "xn--bcher-kva.example" },
    });
  });

  test("absent, null or empty: no search domain, no warning", () => {
    for (const raw of [undefined, null, ""]) {
      const r = parse(raw);
      expect(r as unknown).toEqual({ ok: true, value: { ...ADDRESSES, upstream_dns: [] } });
    }
  });

  test("not a domain name: the interface is still taken, without it, and the warning says why", () => {
    const cases: Array<[unknown, string]> = [
      ["*.corp.example", "is not a domain name"],
      ["corp example", "is not a domain name"],
      ["corp.example\nnameserver 6.6.6.6", "is not a domain name"],
      ["a..example", "is not a domain name"],
      [`${"a".repeat(64)}.example`, "is not a domain name"],
      [`${"abcdefghi.".repeat(26)}example`, "longer than 253"],
      ["x".repeat(5000), "longer than 253"],
      [".", "is empty"],
      [42, "is not a string but a number"],
      [["corp.example"], "is not a string but a list"],
    ];
    for (const [raw, why] of cases) {
      const r = parse(raw);
      expect(r.ok).toBe(true);
      if (!r.ok) continue;
      expect(r.value.search_domain).toBeUndefined();
      expect(r.warning).toContain(why);
      // Bounded and free of control characters: it is shown in status and logs.
      expect(r.warning!.length).toBeLessThanOrEqual(256);
      expect(r.warning).not.toMatch(/[\x00-\x1f]/);
    }
  });

  test("bad addresses still refuse the interface whatever the search domain", () => {
    expect(parseInterface({ ...ADDRESSES, ipv4: "198.51.100.7", search_domain: "corp.example" }).ok).toBe(
      false,
    );
  });
});

test("firezonectl status shows the search domains after the upstreams", () => {
  const out = formatStatus({
    state: "connected",
    mode: "interactive",
    daemonVersion: "1.0.0",
    protocol: 1,
    pid: 1,
    uptimeSeconds: 5,
    resourceCount: 1,
    dnsMode: "systemd-resolved",
    dnsServers: ["100.100.111.1"],
    dnsUpstreams: ["10.0.0.53"],
    dnsSearchDomains: ["corp.example"],
  });
  expect(out).toContain(
    "  DNS:        systemd-resolved: 100.100.111.1 (upstream 10.0.0.53, search corp.example)",
  );
});
