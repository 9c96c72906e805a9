// Builds one binary package with Debian's own tools and no debhelper: the files are staged with
// their final modes, dpkg-shlibdeps computes Depends from the ELF objects, and dpkg-deb builds the
// archive with every file owned by root:root.
import { createHash } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { gzipSync } from "node:zlib";
import type { PackageFile } from "./layout.ts";

export type MaintainerScript = "preinst" | "postinst" | "prerm" | "postrm";

export interface DebSpec {
  name: string;
  version: string;
  arch: string;
  /** "Name <email>" */
  maintainer: string;
  /** When the changelog entry was made (the source's commit time, for reproducible packages). */
  date: Date;
  /** One line for the changelog entry. */
  changes: string;
  files: PackageFile[];
  /** Relations besides the shared libraries, which dpkg-shlibdeps adds to Depends. */
  depends?: string[];
  recommends?: string[];
  conflicts?: string[];
  section: string;
  /** First line: the synopsis; the rest: the long description (lines of at most 79 characters). */
  description: string;
  /** Each maintainer script's text, as it ships (scripts/deb/maintainer_scripts.ts). */
  scripts: Partial<Record<MaintainerScript, string>>;
  copyright: string;
  /** ELF objects the binaries load at run time that are not files of the package (N-API addons). */
  runtimeObjects?: string[];
}

export interface BuildOptions {
  outDir: string;
  /** gzip at level 1 instead of xz: for tests and development, where xz takes minutes. */
  fast: boolean;
  sourceDateEpoch: number;
}

function run(cmd: string[], cwd: string, env?: Record<string, string>): string {
  const r = Bun.spawnSync(cmd, { cwd, env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0)
    throw new Error(
      `${cmd[0]} failed (exit ${r.exitCode}): ${(r.stderr.toString() || r.stdout.toString()).trim()}`,
    );
  return r.stdout.toString();
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? [p, ...walk(p)] : [p];
  });
}

function ensureDir(root: string, dir: string): void {
  mkdirSync(join(root, dir), { recursive: true });
}

function stage(root: string, file: PackageFile): void {
  const dest = join(root, file.dest);
  ensureDir(root, dirname(file.dest));
  if (file.text === undefined && !file.gzip) copyFileSync(file.src!, dest);
  else {
    const data = file.text ?? readFileSync(file.src!);
    writeFileSync(dest, file.gzip ? gzipSync(data, { level: 9 }) : data);
  }
  chmodSync(dest, file.mode);
}

function changelog(spec: DebSpec): string {
  const date = spec.date.toUTCString().replace(/GMT$/, "+0000");
  return `${spec.name} (${spec.version}) unstable; urgency=medium\n\n  * ${spec.changes}\n\n -- ${spec.maintainer}  ${date}\n`;
}

/** The shared-library dependencies of the package's ELF files, as dpkg-shlibdeps computes them. */
function shlibsDepends(work: string, root: string, name: string, extra: string[]): string[] {
  const elves = walk(root).filter((p) => {
    if (!lstatSync(p).isFile()) return false;
    const head = readFileSync(p).subarray(0, 4);
    return head.length === 4 && head.readUInt32BE(0) === 0x7f454c46;
  });
  if (elves.length === 0) return [];
  writeFileSync(
    join(work, "debian/control"),
    `Source: firezone-client\n\nPackage: ${name}\nArchitecture: any\n`,
  );
  const out = run(["dpkg-shlibdeps", "-O", ...[...elves, ...extra].map((e) => `-e${e}`)], work);
  const line = /^shlibs:Depends=(.*)$/m.exec(out)?.[1] ?? "";
  return line ? line.split(/,\s*/) : [];
}

/** Installed-Size in KiB, counted as dpkg-gencontrol does: each file rounded up, 1 per directory. */
function installedSize(root: string): number {
  return walk(root)
    .filter((p) => !relative(root, p).startsWith("DEBIAN"))
    .reduce((sum, p) => {
      const st = lstatSync(p);
      return sum + (st.isFile() ? Math.ceil(st.size / 1024) : 1);
    }, 0);
}

function control(spec: DebSpec, depends: string[], size: number): string {
  const [synopsis, ...long] = spec.description.trimEnd().split("\n");
  const fields: Array<[string, string[] | string | undefined]> = [
    ["Package", spec.name],
    ["Version", spec.version],
    ["Architecture", spec.arch],
    ["Maintainer", spec.maintainer],
    ["Installed-Size", String(size)],
    ["Depends", depends],
    ["Recommends", spec.recommends],
    ["Conflicts", spec.conflicts],
    ["Section", spec.section],
    ["Priority", "optional"],
  ];
  const lines = fields
    .filter(([, v]) => (Array.isArray(v) ? v.length > 0 : v !== undefined))
    .map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(", ") : v}`);
  const body = long.map((l) => (l.trim() === "" ? " ." : ` ${l}`));
  return `${lines.join("\n")}\nDescription: ${synopsis}\n${body.join("\n")}\n`;
}

/** Builds `<outDir>/<name>_<version without epoch>_<arch>.deb` and returns its path. */
export function buildDeb(spec: DebSpec, opts: BuildOptions): string {
  const work = mkdtempSync(join(tmpdir(), "fz-deb-"));
  try {
    const root = join(work, "debian", spec.name);
    for (const f of spec.files) stage(root, f);
    const doc = `/usr/share/doc/${spec.name}`;
    stage(root, { dest: `${doc}/copyright`, mode: 0o644, src: spec.copyright });
    // A native package (no Debian revision) carries its changelog as changelog.gz.
    stage(root, { dest: `${doc}/changelog.gz`, mode: 0o644, text: changelog(spec), gzip: true });

    const depends = [
      ...(spec.depends ?? []),
      ...shlibsDepends(work, root, spec.name, spec.runtimeObjects ?? []),
    ];
    const size = installedSize(root);

    ensureDir(root, "DEBIAN");
    const md5sums = walk(root)
      .filter((p) => lstatSync(p).isFile())
      .map((p) => `/${relative(root, p)}`)
      .filter((p) => !spec.files.some((f) => f.conffile && f.dest === p))
      .sort()
      .map(
        (p) =>
          `${createHash("md5")
            .update(readFileSync(join(root, p)))
            .digest("hex")}  ${p.slice(1)}`,
      );
    writeFileSync(join(root, "DEBIAN/md5sums"), `${md5sums.join("\n")}\n`);
    const conffiles = spec.files.filter((f) => f.conffile).map((f) => f.dest);
    if (conffiles.length > 0) writeFileSync(join(root, "DEBIAN/conffiles"), `${conffiles.join("\n")}\n`);
    writeFileSync(join(root, "DEBIAN/control"), control(spec, depends, size));
    for (const [script, text] of Object.entries(spec.scripts)) {
      writeFileSync(join(root, "DEBIAN", script), text);
      chmodSync(join(root, "DEBIAN", script), 0o755);
    }
    for (const f of ["control", "md5sums", "conffiles"]) {
      if (existsSync(join(root, "DEBIAN", f))) chmodSync(join(root, "DEBIAN", f), 0o644);
    }
    // Directories 0755 whatever the umask of whoever builds.
    for (const p of [root, ...walk(root)]) if (lstatSync(p).isDirectory()) chmodSync(p, 0o755);

    mkdirSync(opts.outDir, { recursive: true });
    const upstream = spec.version.replace(/^[0-9]+:/, "");
    const out = join(opts.outDir, `${spec.name}_${upstream}_${spec.arch}.deb`);
    const compression = opts.fast ? ["-Zgzip", "-z1"] : ["-Zxz"];
    run(["dpkg-deb", "--root-owner-group", ...compression, "--build", root, out], work, {
      SOURCE_DATE_EPOCH: String(opts.sourceDateEpoch),
    });
    return out;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
