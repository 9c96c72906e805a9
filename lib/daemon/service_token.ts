// Service mode: a service-account token from the environment or from a root-only file.
import { readFileSync, statSync } from "node:fs";
import { FzError } from "../types/index.ts";

export interface ServiceToken {
  token: string;
  source: "env" | "file";
}

/**
 * FIREZONE_TOKEN wins (its value, or a path to a file holding it, for Docker secrets); else the token
 * file, which must be root's and unreadable to others. Returns null when neither exists.
 */
export function loadServiceToken(envToken: string | null, tokenFile: string): ServiceToken | null {
  if (envToken !== null) {
    if (envToken.startsWith("/")) return { token: readTokenFile(envToken), source: "env" };
    return { token: envToken.trim(), source: "env" };
  }
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(tokenFile);
  } catch (err) {
    if ((err as { code?: string }).code === "ENOENT") return null;
    throw new FzError(
      "invalid_token",
      `cannot read the service token ${tokenFile}: ${(err as Error).message}`,
    );
  }
  if (st.uid !== 0 || (st.mode & 0o077) !== 0) {
    const mode = (st.mode & 0o777).toString(8).padStart(3, "0");
    throw new FzError(
      "invalid_token",
      `refusing the service token ${tokenFile}: it is owned by uid ${st.uid} with mode ${mode}, so other users ` +
        `could read or replace it. Fix: sudo chown root:root ${tokenFile} && sudo chmod 600 ${tokenFile}`,
    );
  }
  return { token: readTokenFile(tokenFile), source: "file" };
}

function readTokenFile(path: string): string {
  let token: string;
  try {
    token = readFileSync(path, "utf8").trim();
  } catch (err) {
    throw new FzError("invalid_token", `cannot read the service token ${path}: ${(err as Error).message}`);
  }
  if (token === "") throw new FzError("invalid_token", `the service token file ${path} is empty`);
  return token;
}
