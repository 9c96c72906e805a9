// Tokens are random strings shown once; the store keeps only their SHA-256, so a copy of the
// database does not let anyone sign in. A browser sign-in's token is `nonce + fragment`.
import { createHash, randomBytes } from "node:crypto";

/** 256 random bits, base64url (43 characters). */
export function generateToken(): string {
  return randomBytes(32).toString("base64url");
}

export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/** The nonce a client sends to the sign-in page: what it must look like to be accepted. */
export const NONCE_PATTERN = /^[A-Za-z0-9_-]{8,256}$/;
