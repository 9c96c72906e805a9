// The interactive sign-in token, kept in the desktop keyring (Secret Service: gnome-keyring, KWallet)
// and nowhere else on disk.
import { AsyncEntry } from "@napi-rs/keyring";

export const KEYRING_SERVICE = "dev.firezone.client";
export const KEYRING_USER = "token";

export interface TokenStore {
  load(): Promise<string | null>;
  save(token: string): Promise<void>;
  /** Resolves true when a token was there to delete. */
  remove(): Promise<boolean>;
}

function keyringError(action: string, err: unknown): Error {
  return new Error(
    `cannot ${action} the sign-in token in the desktop keyring (${(err as Error).message}). ` +
      "Make sure a Secret Service keyring (gnome-keyring or KWallet) runs and is unlocked.",
    { cause: err },
  );
}

/** A TokenStore over the Secret Service; never falls back to the kernel keyring or a file. */
export function keyringTokenStore(service = KEYRING_SERVICE, user = KEYRING_USER): TokenStore {
  // Made per call: the constructor itself fails when no Secret Service is on the bus, and one may
  // start after firezone-gui does.
  const entry = () => new AsyncEntry(service, user, { linux: { store: "secret-service" } });
  return {
    async load() {
      try {
        return await entry().getPassword();
      } catch (err) {
        throw keyringError("read", err);
      }
    },
    async save(token) {
      try {
        await entry().setPassword(token);
      } catch (err) {
        throw keyringError("store", err);
      }
    },
    async remove() {
      try {
        return await entry().deleteCredential();
      } catch (err) {
        throw keyringError("delete", err);
      }
    },
  };
}
