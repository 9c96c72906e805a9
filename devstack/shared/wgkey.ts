// WireGuard (X25519) key pairs in wg(8)'s base64 form, for the devstack gateway and tests.
import { createPrivateKey, createPublicKey, generateKeyPairSync } from "node:crypto";

export interface WgKeyPair {
  privateKey: string;
  publicKey: string;
}

const b64 = (b64url: string) => Buffer.from(b64url, "base64url").toString("base64");

export function generateWgKeyPair(): WgKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync("x25519");
  return {
    privateKey: b64(privateKey.export({ format: "jwk" }).d!),
    publicKey: b64(publicKey.export({ format: "jwk" }).x!),
  };
}

/** The public key of a base64 private key, as `wg pubkey` prints it. */
export function wgPublicKey(privateKey: string): string {
  const d = Buffer.from(privateKey, "base64").toString("base64url");
  const key = createPrivateKey({ key: { kty: "OKP", crv: "X25519", d, x: "" }, format: "jwk" });
  return b64(createPublicKey(key).export({ format: "jwk" }).x!);
}
