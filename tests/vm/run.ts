// `bun run test:vm`: builds (or reuses) the Debian image, boots it under qemu with the build output,
// install.sh and packaging shared in, runs tests/vm/guest/run.sh as a systemd unit, prints the results.
// Ends with "N passed, N failed"; exits non-zero on any failure. Skips with a clear line when qemu,
// debootstrap, a Debian kernel or root are missing.
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
} from "node:fs";
import { join, resolve } from "node:path";
import { ensureImage, hostKernel } from "./image.ts";
import { boot, qemuUnusable } from "./qemu.ts";

const ROOT = resolve(import.meta.dir, "../..");
const CACHE = join(ROOT, ".cache/vm");
const RUN_DIR = join(CACHE, "last-run");
const SHARE = join(RUN_DIR, "share");
const BUN = join(ROOT, "node_modules/.bin/bun");
const started = performance.now();
const log = (line: string) => console.log(`vm: ${line}`);

function skip(reason: string): never {
  console.log(`vm tests: SKIPPED: ${reason}`);
  console.log("0 passed, 0 failed, 1 skipped");
  process.exit(0);
}

function skipReason(): string | null {
  if (process.getuid?.() !== 0) return "building the image needs root (debootstrap, chroot)";
  const q = qemuUnusable();
  if (q) return q;
  if (!Bun.which("debootstrap")) return "debootstrap is not installed";
  if (!Bun.which("mkfs.ext4")) return "mkfs.ext4 is not installed (Debian: e2fsprogs)";
  if (!hostKernel())
    return "no Debian kernel in /boot with modules in /lib/modules (Debian: linux-image-amd64)";
  return null;
}

const reason = skipReason();
if (reason) skip(reason);

// One VM run at a time per checkout: a second `bun run test:vm` (another shell, the full test suite)
// waits for the first instead of sharing its image build and run directory.
if (!process.env.FIREZONE_VM_LOCKED && Bun.which("flock")) {
  mkdirSync(CACHE, { recursive: true });
  const locked = Bun.spawn(["flock", join(CACHE, ".lock"), process.execPath, ...process.argv.slice(1)], {
    env: { ...process.env, FIREZONE_VM_LOCKED: "1" },
    stdio: ["inherit", "inherit", "inherit"],
  });
  process.exit(await locked.exited);
}
const kernel = hostKernel();
if (!kernel) skip("no kernel");

// Build output first: the tests install exactly what `bun run build` produced.
const build = Bun.spawnSync([BUN, "run", "build"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
if (build.exitCode !== 0) {
  console.log(build.stdout.toString() + build.stderr.toString());
  console.log("vm tests: the build failed");
  console.log("0 passed, 1 failed");
  process.exit(1);
}

const image = ensureImage(CACHE, kernel, log);

rmSync(RUN_DIR, { recursive: true, force: true });
mkdirSync(join(SHARE, "dist"), { recursive: true });
mkdirSync(join(SHARE, "out"), { recursive: true });
mkdirSync(join(SHARE, "bin"), { recursive: true });
for (const name of ["firezoned", "firezonectl", "firezone-gui", "completions", "man"]) {
  const src = join(ROOT, "dist", name);
  if (existsSync(src)) cpSync(src, join(SHARE, "dist", name), { recursive: true });
}
for (const path of ["install.sh", "packaging", "docker", "tests/vm/guest"]) {
  const src = join(ROOT, path);
  if (existsSync(src)) cpSync(src, join(SHARE, path), { recursive: true });
}
// The Debian packages of this build (tests/vm/guest/deb.sh), and the same build numbered as an
// older release to upgrade from. gzip: xz would take minutes and changes nothing installed.
for (const [dir, version] of [
  ["deb", null],
  ["deb-old", "0.0.1"],
] as const) {
  const args = [
    "scripts/package.ts",
    "--fast",
    "--out",
    join(SHARE, dir),
    ...(version ? ["--version", version] : []),
  ];
  const p = Bun.spawnSync([BUN, ...args], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0) log(`could not build the packages in ${dir}/: ${p.stderr.toString().trim()}`);
}
// Bun itself, for test scripts written in TypeScript (the tunnel smoke test).
cpSync(realpathSync(BUN), join(SHARE, "bin/bun"));
chmodSync(join(SHARE, "bin/bun"), 0o755);
for (const smoke of ["tests/tunnel/kernel_smoke.ts"]) {
  if (!existsSync(join(ROOT, smoke))) continue;
  // Compiled on the host so the guest needs neither the source tree nor node_modules.
  const out = join(SHARE, "bin", smoke.split("/").at(-1)?.replace(/\.ts$/, "") ?? "smoke");
  const c = Bun.spawnSync([BUN, "build", "--compile", join(ROOT, smoke), "--outfile", out], {
    cwd: ROOT,
    stdout: "pipe",
    stderr: "pipe",
  });
  if (c.exitCode !== 0) log(`could not compile ${smoke}: ${c.stderr.toString().trim()}`);
}

// FIREZONE_VM_ONLY=text runs only the checks whose names contain it (case-insensitive).
if (process.env.FIREZONE_VM_ONLY)
  await Bun.write(join(SHARE, "only.txt"), `${process.env.FIREZONE_VM_ONLY}\n`);

log(`booting ${kernel.version} under qemu (TCG, -cpu max); console: ${join(RUN_DIR, "console.log")}`);
const result = await boot({
  image,
  kernel,
  runDir: RUN_DIR,
  shareDir: SHARE,
  repoDir: ROOT,
  timeoutMs: Number(process.env.FIREZONE_VM_TIMEOUT_S ?? 2700) * 1000,
});
log(`guest stopped after ${result.seconds} s${result.timedOut ? " (timed out, killed)" : ""}`);

// The guest writes one line per test: "ok <name>" or "not ok <name>: <why>", then "done".
const resultsFile = join(SHARE, "out/results.txt");
const lines = existsSync(resultsFile) ? readFileSync(resultsFile, "utf8").split("\n").filter(Boolean) : [];
let passed = 0;
let failed = 0;
for (const line of lines) {
  if (line.startsWith("ok ")) passed++;
  else if (line.startsWith("not ok ")) failed++;
  else if (line === "done") continue;
  console.log(line);
}
const outDir = join(SHARE, "out");
for (const f of readdirSync(outDir).filter((f) => f.endsWith(".txt") && f !== "results.txt")) {
  if (f === "summary.txt") console.log(readFileSync(join(outDir, f), "utf8").trimEnd());
}
if (!lines.includes("done")) {
  failed++;
  console.log(
    `not ok the guest finished its test script (it did not; see ${join(RUN_DIR, "console.log")} and ${outDir})`,
  );
}
log(
  `logs: ${outDir}, ${join(RUN_DIR, "console.log")}; total ${Math.round((performance.now() - started) / 1000)} s`,
);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
