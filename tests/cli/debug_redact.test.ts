// What the debug bundle cuts out: credentials always, and with --anonymize names, outside addresses
// and the home directory, while the tunnel's own addresses and ordinary words stay readable.
import { describe, expect, test } from "bun:test";
import { Anonymizer, generatePrivateKey, REDACTED, redactSecrets } from "../../lib/util/index.ts";

describe("redactSecrets", () => {
  test("WireGuard keys, long tokens, labelled values and bearer tokens are cut", () => {
    const key = generatePrivateKey();
    const token = "SFMyNTY.g2gDaANtAAAAJGE0Mjk2ZmQ3LTMxYzItNDRiMC1iZDI1LTk3YmY5ZTcwMzdhNW0";
    const text = `key ${key}\ntoken ${token}\npassword=hunter2hunter2\nAuthorization: Bearer abc.def\n{"token":"short-but-labelled"}`;
    const out = redactSecrets(text);
    expect(out).not.toContain(key);
    expect(out).not.toContain("g2gDaANtAAAAJGE0Mjk2ZmQ3LTMxYzItNDRiMC1iZDI1LTk3YmY5ZTcwMzdhNW0");
    expect(out).not.toContain("hunter2");
    expect(out).not.toContain("abc.def");
    expect(out).not.toContain("short-but-labelled");
    expect(out).toContain(REDACTED);
  });

  test("exact secrets the caller knows are cut wherever they appear, however short their context", () => {
    expect(redactSecrets("x=abcd1234efgh;", ["abcd1234efgh"])).toBe(`x=${REDACTED};`);
  });

  test("UUIDs, paths, ordinary words and check titles stay", () => {
    const text =
      "resource e6ddae61-cd4c-48bf-b881-fdc569709abd\n/var/lib/firezoned/state/settings.json\nKeyring (Secret Service)\nPortal accepts the token: signed in as alice";
    expect(redactSecrets(text)).toBe(text);
  });
});

describe("Anonymizer", () => {
  const anon = () => new Anonymizer({ names: ["alice", "web", "db"], home: "/home/alice" });

  test("names become stable placeholders, whole words only", () => {
    const out = anon().apply("alice reached web; websocket stays; alice again; db too short to replace");
    expect(out).toBe("name-1 reached name-2; websocket stays; name-1 again; db too short to replace");
  });

  test("addresses outside the tunnel ranges are replaced, the tunnel's and loopback stay", () => {
    const out = anon().apply(
      "portal 203.0.113.7 gw 2001:db8::1 tun 100.64.0.2 fd00:2021:1111::2 stub 100.100.111.1 lo 127.0.0.1 203.0.113.7",
    );
    expect(out).toBe(
      "portal ip4-1 gw ip6-1 tun 100.64.0.2 fd00:2021:1111::2 stub 100.100.111.1 lo 127.0.0.1 ip4-1",
    );
  });

  test("the home directory becomes ~ and times are not taken for addresses", () => {
    expect(
      anon().apply("2026-01-01T12:34:56.000Z read /home/alice/.config/firezone/gui.json at 12:34:56"),
    ).toBe("2026-01-01T12:34:56.000Z read ~/.config/firezone/gui.json at 12:34:56");
  });
});
