// Addresses and prefixes parse strictly and print canonically, so route sets compare as strings.
import { describe, expect, test } from "bun:test";
import { formatIp, normalizeCidr, parseCidr, parseEndpoint, parseIp } from "../../lib/util/index.ts";

describe("CIDR text", () => {
  test("IPv6 prints in RFC 5952 form: lowercase, longest zero run as ::", () => {
    const f = (s: string) => formatIp(parseIp(s)!.bytes);
    expect(f("FD00:2021:1111:0:0:0:0:1")).toBe("fd00:2021:1111::1");
    expect(f("1:0:0:1:0:0:0:1")).toBe("1:0:0:1::1");
    expect(f("1:0:1:0:1:0:1:0")).toBe("1:0:1:0:1:0:1:0");
    expect(f("::")).toBe("::");
    expect(f("::ffff:1.2.3.4")).toBe("::ffff:102:304");
  });

  test("normalising clears host bits and keeps the prefix", () => {
    expect(normalizeCidr("10.1.2.3/8")).toBe("10.0.0.0/8");
    expect(normalizeCidr("100.64.0.7")).toBe("100.64.0.7/32");
    expect(normalizeCidr("fd00:2021:1111::5/107")).toBe("fd00:2021:1111::/107");
    expect(normalizeCidr("0.0.0.0/0")).toBe("0.0.0.0/0");
  });

  test("malformed input is refused with the text that was wrong", () => {
    for (const bad of [
      "10.0.0.256/8",
      "10.0.0/8",
      "10.0.0.1/33",
      "fd00::/129",
      "fd00:::1/64",
      "01.2.3.4/8",
      "1:2:3:4:5:6:7:8:9/64",
      "x/1",
    ])
      expect(() => parseCidr(bad)).toThrow(bad);
  });

  test("endpoints take IPv4 host:port or [IPv6]:port", () => {
    expect(parseEndpoint("192.0.2.1:51820")).toMatchObject({ family: 4, port: 51820 });
    expect(parseEndpoint("[2001:db8::1]:443")).toMatchObject({ family: 6, port: 443 });
    expect(() => parseEndpoint("2001:db8::1:443")).toThrow();
    expect(() => parseEndpoint("192.0.2.1:0")).toThrow();
  });
});
