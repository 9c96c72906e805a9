// Service mode: a service-account token from the environment, a systemd credential, or a root-only
// file. Whatever the source, the token is checked here, where it enters, and refused with the fix.
import { join } from "node:path";
import { FzError } from "../types/index.ts";
import { readRootSecretFile } from "./root_secret_file.ts";

/** The credential name for LoadCredential=/LoadCredentialEncrypted= in the unit. */
export const CREDENTIAL_NAME = "firezone-token";

export interface ServiceToken {
  token: string;
  /** `env`: FIREZONE_TOKEN's value; `env-file`: the file FIREZONE_TOKEN names; `credential`: systemd. */
  source: "env" | "env-file" | "credential" | "file";
  /** The file it came from, for the log (never the token). */
  path?: string;
}

export interface TokenSources {
  /** FIREZONE_TOKEN: the token, or an absolute path to a file holding it (Docker secrets). */
  envToken: string | null;
  /** $CREDENTIALS_DIRECTORY, set by systemd when the unit has LoadCredential*=. */
  credentialsDir: string | null;
  /** FIREZONE_TOKEN_FILE, default /etc/firezoned/token. */
  tokenFile: string;
}

/**
 * The token as it must look on the wire: printable ASCII without spaces, after trailing line ends
 * are trimmed. Binary content, a stray control character or a pasted second line is refused at once
 * instead of being sent to the portal and retried for ever.
 */
export function parseServiceToken(raw: string | Buffer, where: string): string {
  const text = (typeof raw === "string" ? Buffer.from(raw, "utf8") : raw).toString("latin1");
  const trimmed = text.replace(/[\r\n]+$/, "");
  if (trimmed === "")
    throw new FzError("invalid_token", `the service token in ${where} is empty. Fix: write the token there`);
  for (let i = 0; i < trimmed.length; i++) {
    const c = trimmed.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) {
      const what =
        c === 0
          ? "a NUL byte (binary content)"
          : c > 0x7f
            ? "a non-ASCII byte"
            : c === 0x20
              ? "a space"
              : "a control character";
      throw new FzError(
        "invalid_token",
        `the service token in ${where} holds ${what} at byte ${i}: a token is one line of printable ASCII. ` +
          "Fix: write only the service-account token, as the portal showed it",
      );
    }
  }
  return trimmed;
}

function fromFile(path: string, source: ServiceToken["source"], where: string): ServiceToken | null {
  const r = readRootSecretFile(path);
  if (r.kind === "missing") return null;
  return { token: parseServiceToken(r.bytes, where), source, path };
}

/**
 * In order: FIREZONE_TOKEN (its value, or a path to a file holding it), the systemd credential
 * `firezone-token`, then the token file. Returns null when none exists; throws FzError
 * `invalid_token` naming the fix when one exists but cannot be trusted.
 */
export function loadServiceToken(sources: TokenSources): ServiceToken | null {
  const { envToken, credentialsDir, tokenFile } = sources;
  if (envToken !== null) {
    if (envToken.startsWith("/")) {
      const t = fromFile(envToken, "env-file", envToken);
      if (!t)
        throw new FzError(
          "invalid_token",
          `FIREZONE_TOKEN names ${envToken}, which does not exist. Fix: mount the secret there, or unset FIREZONE_TOKEN`,
        );
      return t;
    }
    return { token: parseServiceToken(envToken, "FIREZONE_TOKEN"), source: "env" };
  }
  if (credentialsDir) {
    const path = join(credentialsDir, CREDENTIAL_NAME);
    const t = fromFile(path, "credential", `the systemd credential ${CREDENTIAL_NAME}`);
    if (t) return t;
  }
  return fromFile(tokenFile, "file", tokenFile);
}
