// WireGuard keys made with node:crypto's X25519 agree with `wg genkey` and `wg pubkey`.
import { describe, expect, test } from "bun:test";
import { generatePrivateKey, isValidKey, keyFromHex, keyToHex, publicKeyOf } from "../../lib/util/index.ts";
import { sh } from "./_lab.ts";

describe("WireGuard keys", () => {
  test("the public key of a `wg genkey` private key is what `wg pubkey` prints", () => {
    for (let i = 0; i < 5; i++) {
      const priv = sh(["wg", "genkey"]).trim();
      expect(publicKeyOf(priv)).toBe(sh(["wg", "pubkey"], `${priv}\n`).trim());
    }
  });

  test("`wg pubkey` accepts our private keys and derives the same public key", () => {
    for (let i = 0; i < 5; i++) {
      const priv = generatePrivateKey();
      expect(sh(["wg", "pubkey"], `${priv}\n`).trim()).toBe(publicKeyOf(priv));
    }
  });

  test("our private keys are clamped the way wg genkey clamps them", () => {
    const bytes = Buffer.from(generatePrivateKey(), "base64");
    expect(bytes[0]! & 7).toBe(0);
    expect(bytes[31]! & 0x80).toBe(0);
    expect(bytes[31]! & 0x40).toBe(0x40);
  });

  test("hex (UAPI) and base64 forms convert both ways", () => {
    const priv = generatePrivateKey();
    expect(keyToHex(priv)).toMatch(/^[0-9a-f]{64}$/);
    expect(keyFromHex(keyToHex(priv))).toBe(priv);
  });

  test("malformed keys are refused with a message that says what a key looks like", () => {
    expect(isValidKey("abc")).toBe(false);
    expect(isValidKey(`${"A".repeat(43)}=`)).toBe(true);
    expect(isValidKey(`${"A".repeat(42)}B=`)).toBe(false); // 33 bits of data past the 32 bytes
    expect(() => publicKeyOf("not a key")).toThrow(/44 characters of base64/);
    expect(() => keyFromHex("zz")).toThrow(/64 hex digits/);
  });
});
