// Tests run the compiled programs, as users do. Builds dist/ once if it is missing or stale.
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dir, "../..");
export const BUN = join(ROOT, "node_modules/.bin/bun");
export const DIST = join(ROOT, "dist");
export const FIREZONED = join(DIST, "firezoned");
export const FIREZONECTL = join(DIST, "firezonectl");

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs);
  }
  return newest;
}

let built = false;
export function ensureBuilt(): void {
  if (built) return;
  const stale =
    !existsSync(FIREZONED) ||
    !existsSync(FIREZONECTL) ||
    Math.min(statSync(FIREZONED).mtimeMs, statSync(FIREZONECTL).mtimeMs) <
      Math.max(newestSource(join(ROOT, "lib")), newestSource(join(ROOT, "src")));
  if (stale) {
    const r = Bun.spawnSync([BUN, "run", "build"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`build failed: ${r.stderr.toString()}`);
  }
  built = true;
}
