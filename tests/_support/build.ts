// Tests run the compiled programs, as users do. Builds dist/ once if it is missing or stale.
import { join, resolve } from "node:path";
import { distIsStale } from "../../devstack/shared/dist.ts";

export const ROOT = resolve(import.meta.dir, "../..");
export const BUN = join(ROOT, "node_modules/.bin/bun");
export const DIST = join(ROOT, "dist");
export const FIREZONED = join(DIST, "firezoned");
export const FIREZONECTL = join(DIST, "firezonectl");

let built = false;
export function ensureBuilt(): void {
  if (built) return;
  if (distIsStale(ROOT, [FIREZONED, FIREZONECTL])) {
    const r = Bun.spawnSync([BUN, "run", "build"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`build failed: ${r.stderr.toString()}`);
  }
  built = true;
}
