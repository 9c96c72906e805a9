// Builds the build context of the compose example's devstack image in dist/devstack/: the devstack
// portal, gateway, resource, seed and admin CLI compiled into one program (fz-devstack) and the
// Dockerfile beside it, so that context holds nothing else.
//
//   bun docker/devstack_build.ts
import { copyFileSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { COMPILE_FLAGS } from "../scripts/build.ts";

export const ROOT = resolve(import.meta.dir, "..");
export const DEVSTACK_CONTEXT = join(ROOT, "dist/devstack");

/** Compiles fz-devstack (without --bytecode: the dispatcher awaits its import at top level). */
export function buildDevstackContext(): void {
  mkdirSync(DEVSTACK_CONTEXT, { recursive: true });
  const flags = COMPILE_FLAGS.filter((f) => f !== "--bytecode");
  const r = Bun.spawnSync(
    [
      process.execPath,
      "build",
      ...flags,
      join(ROOT, "docker/devstack_main.ts"),
      "--outfile",
      join(DEVSTACK_CONTEXT, "fz-devstack"),
    ],
    { stdout: "pipe", stderr: "pipe", cwd: ROOT },
  );
  if (r.exitCode !== 0) throw new Error(`compiling fz-devstack failed: ${r.stderr.toString()}`);
  copyFileSync(join(ROOT, "docker/devstack.Dockerfile"), join(DEVSTACK_CONTEXT, "Dockerfile"));
}

if (import.meta.main) {
  buildDevstackContext();
  console.log(`devstack image context ready: ${DEVSTACK_CONTEXT}`);
}
