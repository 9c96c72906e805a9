// Reading built .deb files with dpkg-deb, for the packaging tests.
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dir, "../..");
export const BUN = join(ROOT, "node_modules/.bin/bun");

export function sh(cmd: string[], cwd = ROOT): { code: number; out: string; err: string } {
  const r = Bun.spawnSync(cmd, { cwd, stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode ?? -1, out: r.stdout.toString(), err: r.stderr.toString() };
}

/** `bun run package ARGS`, as a user runs it. */
export function runPackage(args: string[]): { code: number; out: string; err: string } {
  return sh([BUN, "scripts/package.ts", ...args]);
}

export interface Entry {
  mode: string;
  owner: string;
  path: string;
  link?: string;
}

/** The data archive's entries: "-rwxr-xr-x root/root 123 2026-01-01 00:00 ./usr/bin/x". */
export function entries(deb: string): Entry[] {
  const r = sh(["dpkg-deb", "-c", deb]);
  if (r.code !== 0) throw new Error(r.err);
  return r.out
    .trim()
    .split("\n")
    .map((line) => {
      const m = /^(\S+) (\S+)\s+\d+ \S+ \S+ \.(\/\S*?)\/?(?: -> (\S+))?$/.exec(line);
      if (!m) throw new Error(`unexpected dpkg-deb -c line: ${line}`);
      return { mode: m[1]!, owner: m[2]!, path: m[3] === "/" ? "/" : m[3]!, ...(m[4] ? { link: m[4] } : {}) };
    });
}

export function field(deb: string, name: string): string {
  return sh(["dpkg-deb", "-f", deb, name]).out.trim();
}

/** Unpacks the data (and the control files under DEBIAN/) into a new directory. */
export function unpack(deb: string): string {
  const dir = mkdtempSync(join(tmpdir(), "fz-deb-x-"));
  for (const cmd of [
    ["dpkg-deb", "-x", deb, dir],
    ["dpkg-deb", "-e", deb, join(dir, "DEBIAN")],
  ]) {
    const r = sh(cmd);
    if (r.code !== 0) throw new Error(r.err);
  }
  return dir;
}

/**
 * A stand-in build in `dir`: small real ELF programs (copies of /bin/true, so dpkg-shlibdeps has real
 * objects to read) in place of the compiled ones, and the man pages and completions a build may add.
 */
export function fakeDist(dir: string, gui: boolean): void {
  mkdirSync(join(dir, "man"), { recursive: true });
  mkdirSync(join(dir, "completions"), { recursive: true });
  for (const name of ["firezoned", "firezonectl", ...(gui ? ["firezone-gui"] : [])])
    copyFileSync("/bin/true", join(dir, name));
  writeFileSync(join(dir, "man/firezonectl.1"), ".TH FIREZONECTL 1\n.SH NAME\nfirezonectl \\- test\n");
  if (gui)
    writeFileSync(join(dir, "man/firezone-gui.1"), ".TH FIREZONE-GUI 1\n.SH NAME\nfirezone-gui \\- test\n");
  writeFileSync(join(dir, "completions/firezonectl.bash"), "complete -F _firezonectl firezonectl\n");
  writeFileSync(join(dir, "completions/_firezonectl"), "#compdef firezonectl\n");
  writeFileSync(join(dir, "completions/firezonectl.fish"), "complete -c firezonectl\n");
}
