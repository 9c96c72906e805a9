// What the tests run as other users (the compiled programs, Bun, TypeScript fixtures, scripts) is
// staged in a per-run 0755 directory under the system temp dir, because the checkout itself may
// not be reachable by them: a clone under /root (mode 0700) is a normal set-up, and there every
// `runuser -u <user> <checkout>/...` fails with "Permission denied". Staging happens on every run,
// so this path is exercised whether or not the checkout is private.
import {
  chmodSync,
  copyFileSync,
  cpSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  realpathSync,
  rmSync,
  statSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, relative, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "../..");

/** The per-run directory, 0755, removed when the test process exits. */
export const STAGE = mkdtempSync(join(tmpdir(), "fz-stage-"));
chmodSync(STAGE, 0o755);
process.on("exit", () => rmSync(STAGE, { recursive: true, force: true }));

function place(rel: string): string {
  const to = join(STAGE, rel);
  for (let d = dirname(to); d.length > STAGE.length; d = dirname(d)) {
    mkdirSync(d, { recursive: true, mode: 0o755 });
    chmodSync(d, 0o755);
  }
  rmSync(to, { force: true, recursive: true });
  return to;
}

/**
 * Puts `src` at STAGE/`rel` and returns that path: a hard link where the file system allows it (the
 * file's own mode then decides who may run it, not the directories above it), else a copy.
 */
export function stageFile(src: string, rel = relative(ROOT, src)): string {
  const to = place(rel);
  const real = realpathSync(src);
  try {
    linkSync(real, to);
  } catch {
    copyFileSync(real, to);
    chmodSync(to, statSync(real).mode & 0o7777);
  }
  return to;
}

/** Copies a directory (fixture scripts, for instance) to STAGE/`rel`, readable and runnable by all. */
export function stageDir(src: string, rel = relative(ROOT, src)): string {
  const to = place(rel);
  cpSync(src, to, { recursive: true, dereference: true });
  Bun.spawnSync(["chmod", "-R", "a+rX", to]);
  return to;
}

let stagedBun: string | null = null;
/** Bun itself, for TypeScript fixtures run as other users. */
export function stageBun(): string {
  stagedBun ??= stageFile(join(ROOT, "node_modules/.bin/bun"), "bin/bun");
  return stagedBun;
}

const bundles = new Map<string, string>();
/**
 * A TypeScript fixture bundled with everything it imports (lib/, node_modules) into one file under
 * STAGE, so another user can run it with `stageBun()` without reading the checkout.
 */
export function stageScript(entry: string): string {
  const cached = bundles.get(entry);
  if (cached) return cached;
  const out = place(join("scripts", relative(ROOT, entry).replace(/\.ts$/, ".js")));
  const r = Bun.spawnSync(
    [join(ROOT, "node_modules/.bin/bun"), "build", entry, "--target", "bun", "--outfile", out],
    { cwd: ROOT, stdout: "pipe", stderr: "pipe" },
  );
  if (r.exitCode !== 0) throw new Error(`bundling ${basename(entry)} failed: ${r.stderr.toString()}`);
  chmodSync(out, 0o644);
  bundles.set(entry, out);
  return out;
}
