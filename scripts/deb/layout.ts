// What goes where in each package: the same dist/ output and packaging/ files install.sh installs,
// moved from /usr/local to the paths a package owns (/usr/bin, /usr/lib, /usr/share), plus the man
// pages and shell completions when the build made them.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** One file of a package: copied from `src`, or written from `text`. */
export interface PackageFile {
  /** Absolute path on the installed system. */
  dest: string;
  mode: 0o755 | 0o644;
  src?: string;
  text?: string;
  /** Gzipped on the way in (man pages, the changelog). */
  gzip?: boolean;
  /** A file under /etc that dpkg keeps when it was changed, and on remove (purge deletes it). */
  conffile?: boolean;
}

export interface Layout {
  client: PackageFile[];
  /** null when the build has no firezone-gui. */
  gui: PackageFile[] | null;
}

/** Replaces `from` in `text`, failing when it is absent: a moved path must never ship unnoticed. */
function replaceOnce(text: string, from: string, to: string, what: string): string {
  if (!text.includes(from))
    throw new Error(`${what} no longer contains "${from}"; update scripts/deb/layout.ts`);
  return text.replaceAll(from, to);
}

/** Shell completions from dist/completions/, to the directories each shell reads packages' files from. */
const COMPLETIONS: Array<[file: string, dest: string]> = [
  ["firezonectl.bash", "/usr/share/bash-completion/completions/firezonectl"],
  ["_firezonectl", "/usr/share/zsh/vendor-completions/_firezonectl"],
  ["firezonectl.fish", "/usr/share/fish/vendor_completions.d/firezonectl.fish"],
];

/** dist/man/<name>.<section>, each to the package of the program it documents. */
function manPages(dist: string): Array<{ name: string; file: PackageFile }> {
  const dir = join(dist, "man");
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((f) => /^([a-z][a-z0-9-]*)\.([1-8])$/.exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .sort((a, b) => a[0].localeCompare(b[0]))
    .map((m) => ({
      name: m[1]!,
      file: { dest: `/usr/share/man/man${m[2]}/${m[0]}.gz`, mode: 0o644, src: join(dir, m[0]), gzip: true },
    }));
}

export function layout(dist: string, packaging: string): Layout {
  for (const name of ["firezoned", "firezonectl"]) {
    if (!existsSync(join(dist, name)))
      throw new Error(`${join(dist, name)} is missing: run \`bun run build\` first`);
  }
  const read = (name: string) => readFileSync(join(packaging, name), "utf8");
  let unit = replaceOnce(
    read("firezoned.service"),
    "ExecStart=/usr/local/bin/firezoned",
    "ExecStart=/usr/bin/firezoned",
    "packaging/firezoned.service",
  );
  unit = unit.replace("Installed by install.sh;", "Installed by the firezone-client package;");
  const man = manPages(dist);
  const client: PackageFile[] = [
    { dest: "/usr/bin/firezoned", mode: 0o755, src: join(dist, "firezoned") },
    { dest: "/usr/bin/firezonectl", mode: 0o755, src: join(dist, "firezonectl") },
    { dest: "/lib/systemd/system/firezoned.service", mode: 0o644, text: unit },
    { dest: "/usr/lib/sysusers.d/firezone.conf", mode: 0o644, src: join(packaging, "deb/firezone.sysusers") },
    ...man.filter((m) => m.name !== "firezone-gui").map((m) => m.file),
    ...COMPLETIONS.filter(([f]) => existsSync(join(dist, "completions", f))).map(
      ([f, dest]): PackageFile => ({ dest, mode: 0o644, src: join(dist, "completions", f) }),
    ),
  ];
  if (!existsSync(join(dist, "firezone-gui"))) return { client, gui: null };
  const dbusService = replaceOnce(
    read("dev.firezone.client.service"),
    "Exec=/usr/local/bin/firezone-gui",
    "Exec=/usr/bin/firezone-gui",
    "packaging/dev.firezone.client.service",
  );
  const gui: PackageFile[] = [
    { dest: "/usr/bin/firezone-gui", mode: 0o755, src: join(dist, "firezone-gui") },
    {
      dest: "/usr/share/applications/dev.firezone.client.desktop",
      mode: 0o644,
      src: join(packaging, "dev.firezone.client.desktop"),
    },
    {
      dest: "/usr/share/applications/firezone-gui.desktop",
      mode: 0o644,
      src: join(packaging, "firezone-gui.desktop"),
    },
    { dest: "/usr/share/dbus-1/services/dev.firezone.client.service", mode: 0o644, text: dbusService },
    {
      dest: "/etc/xdg/autostart/firezone-gui.desktop",
      mode: 0o644,
      src: join(packaging, "firezone-gui.desktop"),
      conffile: true,
    },
    ...man.filter((m) => m.name === "firezone-gui").map((m) => m.file),
  ];
  return { client, gui };
}
