// Whether the compiled programs in dist/ are missing or older than their sources, for the demo and
// the tests, which run the compiled programs as users do.
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** True when any of `binaries` is missing or older than the newest file under lib/ and src/. */
export function distIsStale(root: string, binaries: string[]): boolean {
  const source = Math.max(newestMtime(join(root, "lib")), newestMtime(join(root, "src")));
  return binaries.some((b) => !existsSync(b) || statSync(b).mtimeMs < source);
}
