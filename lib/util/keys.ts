// WireGuard keys: Curve25519 key pairs from node:crypto's X25519, in the base64 form `wg` prints and
// the hex form the UAPI protocol speaks.
import { createPrivateKey, createPublicKey, randomBytes } from "node:crypto";

const KEY_LEN = 32;
// DER prefix of a PKCS#8 X25519 private key (RFC 8410): the 32 raw bytes follow it.
const PKCS8_X25519 = Buffer.from("302e020100300506032b656e04220420", "hex");

/** Bytes of a base64 key; throws unless it decodes to exactly 32 bytes. */
export function keyBytes(base64: string): Uint8Array {
  if (!/^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/.test(base64))
    throw new Error("not a WireGuard key: expected 44 characters of base64 (32 bytes)");
  return new Uint8Array(Buffer.from(base64, "base64"));
}

declare const wgKeyBrand: unique symbol;
/** A WireGuard key in base64 that keyBytes accepted: 44 characters, 32 bytes. */
export type WgKey = string & { readonly [wgKeyBrand]: "WgKey" };

/** Checks a base64 key from outside (the portal, a file) once, where it enters. */
export function parseWgKey(text: string): WgKey {
  keyBytes(text);
  return text as WgKey;
}

export function keyToBase64(bytes: Uint8Array): string {
  if (bytes.length !== KEY_LEN) throw new Error(`a WireGuard key has 32 bytes, got ${bytes.length}`);
  return Buffer.from(bytes).toString("base64");
}

export function isValidKey(base64: string): boolean {
  try {
    keyBytes(base64);
    return true;
  } catch {
    return false;
  }
}

export function keyToHex(base64: string): string {
  return Buffer.from(keyBytes(base64)).toString("hex");
}

export function keyFromHex(hex: string): string {
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new Error("not a hex WireGuard key: expected 64 hex digits");
  return Buffer.from(hex, "hex").toString("base64");
}

/** A new private key, clamped as `wg genkey` does. */
export function generatePrivateKey(): string {
  const k = randomBytes(KEY_LEN);
  k[0]! &= 248;
  k[31] = (k[31]! & 127) | 64;
  return k.toString("base64");
}

/** The public key of a private key, as `wg pubkey` computes it. */
export function publicKeyOf(privateKey: string): string {
  const der = Buffer.concat([PKCS8_X25519, keyBytes(privateKey)]);
  const pub = createPublicKey(createPrivateKey({ key: der, format: "der", type: "pkcs8" }));
  const spki = pub.export({ format: "der", type: "spki" });
  return spki.subarray(spki.length - KEY_LEN).toString("base64");
}
