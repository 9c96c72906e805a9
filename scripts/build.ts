// Compiles each program into one standalone executable in dist/ with `bun build --compile`.
import { existsSync, mkdirSync } from "node:fs";

const targets: Array<[entry: string, out: string]> = [
  ["src/firezoned.ts", "dist/firezoned"],
  ["src/firezonectl.ts", "dist/firezonectl"],
  ["src/gui.ts", "dist/firezone-gui"],
];

mkdirSync("dist", { recursive: true });
let failed = false;
for (const [entry, out] of targets) {
  if (!existsSync(entry)) continue;
  const started = performance.now();
  const proc = Bun.spawnSync(
    [
      process.execPath,
      "build",
      "--compile",
      "--minify",
      "--bytecode",
      "--sourcemap",
      entry,
      "--outfile",
      out,
    ],
    {
      stdout: "pipe",
      stderr: "inherit",
    },
  );
  if (proc.exitCode !== 0) {
    failed = true;
    console.error(`build: ${entry} failed (exit ${proc.exitCode})`);
    continue;
  }
  console.log(`build: ${out} (${Math.round(performance.now() - started)} ms)`);
}
process.exit(failed ? 1 : 0);
