// Compiles each program into one standalone executable in dist/ with `bun build --compile`.
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { SHELLS } from "../lib/cli/commands.ts";
import { COMPLETION_FILES, completionScript } from "../lib/cli/completion.ts";
import { firezonectlManPage } from "../lib/cli/man.ts";
import { firezonedManPage } from "../lib/daemon/man_page.ts";

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

/**
 * Shell completions and man pages, generated from the same command tables as --help; install.sh
 * and the packages take them from these dist/ paths.
 */
export function writeDocs(dist = "dist"): void {
  mkdirSync(`${dist}/completions`, { recursive: true });
  mkdirSync(`${dist}/man`, { recursive: true });
  for (const shell of SHELLS)
    writeFileSync(`${dist}/completions/${COMPLETION_FILES[shell]}`, completionScript(shell));
  // The page's date is the source's (SOURCE_DATE_EPOCH), so a rebuild of the same tree is identical.
  const epoch = Number(process.env.SOURCE_DATE_EPOCH);
  const date = Number.isFinite(epoch) && epoch > 0 ? new Date(epoch * 1000) : new Date();
  writeFileSync(`${dist}/man/firezonectl.1`, firezonectlManPage(date));
  writeFileSync(`${dist}/man/firezoned.8`, firezonedManPage(date));
  console.log(`build: ${dist}/completions (${SHELLS.join(", ")}), ${dist}/man (firezonectl.1, firezoned.8)`);
}

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
  writeDocs();
  return ok;
}

if (import.meta.main) process.exit(build() ? 0 : 1);
