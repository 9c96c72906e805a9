// Compiles each program into one standalone executable in dist/ with `bun build --compile`.
import { existsSync, mkdirSync } from "node:fs";

/**
 * How every program is compiled (bench/ipc.ts compiles its hello-world baseline the same way).
 * --bytecode: parsed ahead of time, a few milliseconds off every start (entries must then avoid
 * top-level await). No .env or bunfig.toml autoloading: a compiled Bun program would otherwise read
 * them from whatever directory it is started in, so a .env in the current directory could point
 * firezonectl at another socket and switch off its root-peer check, and firezoned at other settings.
 */
export const COMPILE_FLAGS = [
  "--compile",
  "--minify",
  "--bytecode",
  "--sourcemap",
  "--no-compile-autoload-dotenv",
  "--no-compile-autoload-bunfig",
];

const targets: Array<[entry: string, out: string]> = [
  ["src/firezoned.ts", "dist/firezoned"],
  ["src/firezonectl.ts", "dist/firezonectl"],
  ["src/gui.ts", "dist/firezone-gui"],
];

function build(): boolean {
  mkdirSync("dist", { recursive: true });
  let ok = true;
  for (const [entry, out] of targets) {
    if (!existsSync(entry)) continue;
    const started = performance.now();
    const proc = Bun.spawnSync([process.execPath, "build", ...COMPILE_FLAGS, entry, "--outfile", out], {
      stdout: "pipe",
      stderr: "inherit",
    });
    if (proc.exitCode !== 0) {
      ok = false;
      console.error(`build: ${entry} failed (exit ${proc.exitCode})`);
      continue;
    }
    console.log(`build: ${out} (${Math.round(performance.now() - started)} ms)`);
  }
  return ok;
}

if (import.meta.main) process.exit(build() ? 0 : 1);
