// A stable id for this machine's client, kept in the state dir so the portal gives it the same
// tunnel addresses across restarts.
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const VALID = /^[A-Za-z0-9_-]{8,128}$/;

export function loadDeviceId(stateDir: string): string {
  const file = join(stateDir, "device_id");
  if (existsSync(file)) {
    const id = readFileSync(file, "utf8").trim();
    if (VALID.test(id)) return id;
  }
  const id = crypto.randomUUID();
  // Write-then-rename, so a crash never leaves a half-written id behind.
  writeFileSync(`${file}.tmp`, `${id}\n`, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
  return id;
}
