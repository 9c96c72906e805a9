// Tests run the compiled programs, as users do. Builds dist/ once if it is missing or stale, and
// runs the programs from the per-run stage (stage.ts), where other users can execute them too.
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { distIsStale } from "../../devstack/shared/dist.ts";
import { STAGE, stageFile } from "./stage.ts";

export const ROOT = resolve(import.meta.dir, "../..");
export const BUN = join(ROOT, "node_modules/.bin/bun");
export const DIST = join(ROOT, "dist");
/** Where the tests run dist/'s programs from (a copy or hard link of dist/, staged by ensureBuilt). */
export const STAGED_DIST = join(STAGE, "dist");
export const FIREZONED = join(STAGED_DIST, "firezoned");
export const FIREZONECTL = join(STAGED_DIST, "firezonectl");

/** (Re)stages every program in dist/; call after anything that rebuilds dist/. */
export function stageDist(): void {
  for (const name of ["firezoned", "firezonectl", "firezone-gui"]) {
    const src = join(DIST, name);
    if (existsSync(src)) stageFile(src, join("dist", name));
  }
}

let built = false;
export function ensureBuilt(): void {
  if (built) return;
  if (distIsStale(ROOT, [join(DIST, "firezoned"), join(DIST, "firezonectl")])) {
    const r = Bun.spawnSync([BUN, "run", "build"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`build failed: ${r.stderr.toString()}`);
  }
  stageDist();
  built = true;
}
