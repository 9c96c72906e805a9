// `bun run package`: builds firezone-client_<version>_<arch>.deb and firezone-gui_<version>_<arch>.deb
// from dist/ (run `bun run build` first) with dpkg-deb. See docs/install.md.
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { buildDeb } from "./deb/build_deb.ts";
import { debianArch } from "./deb/elf_arch.ts";
import { layout } from "./deb/layout.ts";
import { packageSpecs } from "./deb/packages.ts";
import { parseDebVersion } from "./deb/version.ts";

const ROOT = resolve(import.meta.dir, "..");

const USAGE = `Usage: bun run package [--dist DIR] [--out DIR] [--version V] [--fast]

Builds the firezone-client and (when dist/ has firezone-gui) firezone-gui Debian packages.
  --dist DIR    the build output to package (default: dist)
  --out DIR     where the .deb files go (default: the --dist directory)
  --version V   the package version (default: package.json's version)
  --fast        gzip -1 instead of xz: much faster, larger files (tests, development)

Environment: DEBFULLNAME and DEBEMAIL name the maintainer; SOURCE_DATE_EPOCH fixes timestamps
(default: the time of the last commit).`;

/** "Name <email>" from DEBFULLNAME/DEBEMAIL, refused when it could break the control file. */
function maintainer(): string {
  const name = process.env.DEBFULLNAME ?? "Firezone Linux client maintainers";
  const email = process.env.DEBEMAIL ?? "maintainers@firezone-client.invalid";
  if (!/^[^\0-\x1f<>,]{1,100}$/.test(name) || !/^[^\0-\x20<>,@]{1,64}@[A-Za-z0-9.-]{1,190}$/.test(email))
    throw new Error("DEBFULLNAME or DEBEMAIL is not a plain name and email address");
  return `${name.trim()} <${email}>`;
}

function sourceDate(): { epoch: number; commit: string } {
  const git = Bun.spawnSync(["git", "log", "-1", "--format=%ct %h"], {
    cwd: ROOT,
    stdout: "pipe",
    stderr: "pipe",
  });
  const [ct, commit] = git.exitCode === 0 ? git.stdout.toString().trim().split(" ") : [];
  const raw = process.env.SOURCE_DATE_EPOCH ?? ct ?? String(Math.floor(Date.now() / 1000));
  if (!/^[0-9]{1,12}$/.test(raw))
    throw new Error(`SOURCE_DATE_EPOCH=${raw.slice(0, 40)} is not a number of seconds`);
  return { epoch: Number(raw), commit: commit ?? "" };
}

export async function main(argv: string[]): Promise<number> {
  let args: ReturnType<typeof parse>;
  function parse() {
    return parseArgs({
      args: argv,
      options: {
        dist: { type: "string" },
        out: { type: "string" },
        version: { type: "string" },
        fast: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    });
  }
  try {
    args = parse();
  } catch (e) {
    console.error(`package: ${(e as Error).message}\n\n${USAGE}`);
    return 64;
  }
  if (args.values.help) {
    console.log(USAGE);
    return 0;
  }
  try {
    const dist = resolve(args.values.dist ?? "dist");
    const out = resolve(args.values.out ?? dist);
    const pkg = await Bun.file(resolve(ROOT, "package.json")).json();
    const version = args.values.version
      ? parseDebVersion(args.values.version, "--version")
      : parseDebVersion(pkg.version, "package.json version");
    const files = layout(dist, resolve(ROOT, "packaging"));
    const { epoch, commit } = sourceDate();
    const specs = packageSpecs(ROOT, files, {
      version,
      arch: debianArch(resolve(dist, "firezoned")),
      maintainer: maintainer(),
      date: new Date(epoch * 1000),
      changes: `Built from the source tree${commit ? ` at commit ${commit}` : ""}.`,
    });
    if (!files.gui) console.log("package: no firezone-gui in the build: building firezone-client only");
    for (const spec of specs) {
      const started = performance.now();
      const deb = buildDeb(spec, { outDir: out, fast: args.values.fast ?? false, sourceDateEpoch: epoch });
      console.log(`package: ${deb} (${Math.round(performance.now() - started)} ms)`);
    }
    return 0;
  } catch (e) {
    console.error(`package: error: ${(e as Error).message}`);
    return 1;
  }
}

if (import.meta.main) process.exit(await main(Bun.argv.slice(2)));
