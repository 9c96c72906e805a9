// DNS resource patterns: the documented wildcard rules (docs/dns.md), case, trailing dots, punycode
// and bounds, table-driven.
import { describe, expect, test } from "bun:test";
import { DnsNameError, DnsResourceTable, parseDnsPattern, parseDomainName } from "../../lib/dns/index.ts";

const MATCHES: Array<[pattern: string, name: string, matches: boolean]> = [
  ["app.corp.example", "app.corp.example", true],
  ["app.corp.example", "APP.Corp.Example", true],
  ["app.corp.example.", "app.corp.example", true],
  ["app.corp.example", "x.app.corp.example", false],
  ["app.corp.example", "corp.example", false],
  ["*.corp.example", "a.corp.example", true],
  ["*.corp.example", "corp.example", false],
  ["*.corp.example", "a.b.corp.example", false],
  ["**.corp.example", "corp.example", true],
  ["**.corp.example", "a.corp.example", true],
  ["**.corp.example", "a.b.c.corp.example", true],
  ["**.corp.example", "corp.example.org", false],
  ["**.corp.example", "xcorp.example", false],
  ["us-east?.corp.example", "us-east1.corp.example", true],
  ["us-east?.corp.example", "us-east.corp.example", false],
  ["us-east?.corp.example", "us-eastxy.corp.example", false],
  ["foo.*.corp.example", "foo.bar.corp.example", true],
  ["foo.*.corp.example", "foo.corp.example", false],
  ["foo.**.corp.example", "foo.bar.baz.corp.example", true],
  ["foo.**.corp.example", "foo.corp.example", true],
  ["app-*.corp.example", "app-1.corp.example", true],
  ["app-*.corp.example", "app-x.corp.example", true],
  ["app-*.corp.example", "app.corp.example", false],
  ["app-*.corp.example", "app-1.x.corp.example", false],
  ["**.a.**.corp.example", "x.a.y.z.corp.example", true],
  ["**.a.**.corp.example", "a.corp.example", true],
  ["**.a.**.corp.example", "b.corp.example", false],
  ["bücher.example", "xn--bcher-kva.example", true],
  ["*.bücher.example", "shop.xn--bcher-kva.example", true],
  ["BÜCHER.example", "xn--bcher-kva.example", true],
  ["_ldap._tcp.corp.example", "_ldap._tcp.corp.example", true],
];

describe("DNS resource patterns", () => {
  test.each(MATCHES)("%p against %p: %p", (pattern, name, expected) => {
    expect(parseDnsPattern(pattern).matches(parseDomainName(name))).toBe(expected);
  });

  const REFUSED: Array<[string, RegExp]> = [
    ["", /empty/],
    [".", /empty/],
    ["a..b", /empty label/],
    ["*", /every name/],
    ["**", /every name/],
    ["*.*", /every name/],
    ["a**.corp.example", /whole label/],
    ["-a.corp.example", /cannot start or end/],
    ["a b.example", /spaces or control/],
    ["a\nb.example", /spaces or control/],
    ["a/b.example", /characters a name pattern cannot hold/],
    [`${"a".repeat(64)}.example`, /at most 63/],
    [`${"abcdefghi.".repeat(26)}example`, /at most 253/],
    ["bü?cher.example", /wildcards cannot sit inside/],
    ["x".repeat(2000), /longer than 1024/],
  ];
  for (const [pattern, reason] of REFUSED)
    test(`${JSON.stringify(pattern.length > 40 ? `${pattern.slice(0, 20)}...(${pattern.length})` : pattern)} is refused: ${reason.source}`, () => {
      expect(() => parseDnsPattern(pattern)).toThrow(DnsNameError);
      expect(() => parseDnsPattern(pattern)).toThrow(reason);
    });

  test("a name of exactly 253 characters and labels of 63 are accepted", () => {
    const label = "a".repeat(63);
    const name = `${label}.${label}.${label}.${"b".repeat(61)}`;
    expect(name.length).toBe(253);
    expect(parseDomainName(name) as string).toBe(name);
  });

  test("the canonical text is lower case ASCII without the trailing dot", () => {
    expect(parseDnsPattern("**.Corp.Example.").text).toBe("**.corp.example");
    expect(parseDnsPattern("Bücher.Example").text).toBe("xn--bcher-kva.example");
  });
});

describe("DnsResourceTable", () => {
  const entry = (id: string, pattern: string) => ({ id, pattern: parseDnsPattern(pattern) });
  const table = new DnsResourceTable([
    entry("all", "**.corp.example"),
    entry("one-level", "*.corp.example"),
    entry("char", "ap?.corp.example"),
    entry("exact", "app.corp.example"),
    entry("other", "git.other.example"),
  ]);

  const CASES: Array<[string, string | null]> = [
    ["app.corp.example", "exact"],
    ["apq.corp.example", "char"],
    ["web.corp.example", "one-level"],
    ["a.b.corp.example", "all"],
    ["corp.example", "all"],
    ["git.other.example", "other"],
    ["www.other.example", null],
    ["example", null],
  ];
  test.each(CASES)("%p belongs to %p (the most specific pattern wins)", (name, id) => {
    expect(table.match(name)).toBe(id);
    // Asked again: the remembered answer is the same.
    expect(table.match(name)).toBe(id);
  });

  test("the order of resources does not change which one wins", () => {
    const reversed = new DnsResourceTable([
      entry("exact", "app.corp.example"),
      entry("char", "ap?.corp.example"),
      entry("one-level", "*.corp.example"),
      entry("all", "**.corp.example"),
    ]);
    for (const [name, id] of CASES.slice(0, 5)) expect(reversed.match(name)).toBe(id);
  });
});
