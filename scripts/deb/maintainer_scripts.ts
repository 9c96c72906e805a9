// The maintainer scripts as they ship: packaging/deb/<script> with each `# INSTALL_SH_FUNCTIONS: a b`
// line replaced by those shell functions taken from install.sh, so the packages detect the DNS mode,
// write the sandbox drop-in and restore /etc/resolv.conf with install.sh's own code (no copy to drift).
import { readFileSync } from "node:fs";

const TOKEN = /^# INSTALL_SH_FUNCTIONS: ([a-z_ ]+)$/gm;

/**
 * Function `name` of install.sh, with the comment lines right above it: from the line `name() {`
 * to the first `}` alone on a line (install.sh indents function bodies, so that is its end).
 */
export function shellFunction(script: string, name: string, source = "install.sh"): string {
  const re = new RegExp(`^((?:#.*\\n)*)${name}\\(\\) \\{\\n[\\s\\S]*?\\n\\}$`, "m");
  const m = re.exec(script);
  if (!m) throw new Error(`${source} has no function ${name}(); update scripts/deb/maintainer_scripts.ts`);
  return m[0];
}

/** What install.sh's functions say that is not true of a package. */
const EDITS: Array<{ fn: string; from: string; to: string }> = [
  {
    fn: "write_dns_drop_in",
    from: "# Written by install.sh:",
    to: "# Written by the firezone-client package (postinst):",
  },
];

function fromInstallSh(installSh: string, name: string): string {
  let text = shellFunction(installSh, name);
  for (const e of EDITS.filter((e) => e.fn === name)) {
    if (!text.includes(e.from))
      throw new Error(
        `install.sh's ${name}() no longer contains "${e.from}"; update scripts/deb/maintainer_scripts.ts`,
      );
    text = text.replaceAll(e.from, e.to);
  }
  return text;
}

/** The script `template` (a path) with install.sh's functions put in where it asks for them. */
export function maintainerScript(template: string, installShPath: string): string {
  const text = readFileSync(template, "utf8");
  const installSh = readFileSync(installShPath, "utf8");
  return text.replace(TOKEN, (_, names: string) => {
    const fns = names
      .trim()
      .split(/ +/)
      .map((n) => fromInstallSh(installSh, n));
    return `# From install.sh, as it is in the same source tree:\n${fns.join("\n\n")}`;
  });
}
