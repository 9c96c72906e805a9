// The completion scripts and man pages `bun run build` writes, loaded by the real shells (Debian's
// bash with bash-completion, zsh, fish) and rendered by man-db: they load, they complete the
// subcommands, and every word they offer comes from the command table that --help shows.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { COMMANDS, completionScript, helpText } from "../../lib/cli/index.ts";
import { SETTING_KEYS } from "../../lib/ipc/index.ts";
import { DIST, ensureBuilt, FIREZONECTL } from "../_support/build.ts";

const COMPLETIONS = join(DIST, "completions");
const MAN = join(DIST, "man");
const tmp = mkdtempSync(join(tmpdir(), "fz-compl-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const has = (tool: string) => Bun.which(tool) !== null;
const BASH_COMPLETION = "/usr/share/bash-completion/bash_completion";
const COMMAND_NAMES = Object.keys(COMMANDS);

function sh(cmd: string[], env: Record<string, string> = {}): { code: number; out: string; err: string } {
  const r = Bun.spawnSync(cmd, { env: { PATH: "/usr/bin:/bin", HOME: tmp, ...env }, stdin: "ignore" });
  return { code: r.exitCode ?? -1, out: r.stdout.toString(), err: r.stderr.toString() };
}

/** What bash completes for `line` (the cursor at its end), through bash-completion's own loader. */
function bashComplete(line: string): string[] {
  const words = line.split(" ");
  const script = `
source ${BASH_COMPLETION}
source ${join(COMPLETIONS, "firezonectl.bash")}
COMP_LINE=${JSON.stringify(line)}
COMP_POINT=\${#COMP_LINE}
COMP_WORDS=(${words.map((w) => JSON.stringify(w)).join(" ")})
COMP_CWORD=${words.length - 1}
$(complete -p firezonectl | sed 's/.*-F \\([^ ]*\\).*/\\1/') firezonectl ${JSON.stringify(words.at(-1))} ${JSON.stringify(words.at(-2) ?? "")}
printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = sh(["bash", "--norc", "--noprofile", "-c", script]);
  expect(r.err).toBe("");
  return r.out.split("\n").filter(Boolean).sort();
}

/** What fish completes for `line`, through `complete -C` with the script loaded. */
function fishComplete(line: string): string[] {
  const r = sh([
    "fish",
    "--no-config",
    "-c",
    `source ${join(COMPLETIONS, "firezonectl.fish")}; complete -C ${JSON.stringify(line)}`,
  ]);
  expect(r.err).toBe("");
  return r.out
    .split("\n")
    .filter(Boolean)
    .map((l) => l.split("\t")[0]!)
    .sort();
}

/**
 * zsh: compinit registers the function from the fpath directory as a real install would; the words
 * it offers are caught by stand-ins for compadd and _describe, since zsh only runs completion
 * widgets inside an interactive line editor (a mock for that editor alone).
 */
function zshComplete(line: string): string[] {
  const words = line.split(" ");
  const script = `
fpath=(${COMPLETIONS} $fpath)
autoload -Uz compinit && compinit -u -d ${join(tmp, "zcompdump")}
[[ $_comps[firezonectl] == _firezonectl ]] || { print -u2 "not registered: $_comps[firezonectl]"; exit 1 }
compadd() { [[ $1 == -- ]] && shift; print -rl -- "$@" }
_describe() { local -a pairs; pairs=("\${(@P)4}"); print -rl -- "\${pairs[@]%%:*}" }
_files() { print -r -- "<files>" }
words=(${words.map((w) => `'${w}'`).join(" ")})
CURRENT=${words.length}
_firezonectl`;
  const r = sh(["zsh", "-f", "-c", script]);
  expect(r.err).toBe("");
  return r.out
    .split("\n")
    .filter(Boolean)
    .map((w) => w.replaceAll("\\:", ":"))
    .sort();
}

const sorted = (words: readonly string[]) => [...words].sort();

describe("shell completion", () => {
  test("bun run build writes the three scripts, the same as firezonectl completion prints", () => {
    ensureBuilt();
    for (const [shell, file] of [
      ["bash", "firezonectl.bash"],
      ["zsh", "_firezonectl"],
      ["fish", "firezonectl.fish"],
    ] as const) {
      const path = join(COMPLETIONS, file);
      expect(existsSync(path)).toBe(true);
      expect(readFileSync(path, "utf8")).toBe(completionScript(shell));
      const printed = sh([FIREZONECTL, "completion", shell]);
      expect(printed.code).toBe(0);
      expect(printed.out).toBe(completionScript(shell));
    }
    expect(sh([FIREZONECTL, "completion", "tcsh"]).code).toBe(64);
  });

  test("--help lists every command of the table the completions come from", () => {
    const help = helpText();
    for (const name of COMMAND_NAMES) expect(help).toContain(`  ${name}`);
  });

  test.skipIf(!has("bash") || !existsSync(BASH_COMPLETION))(
    "bash (with bash-completion) completes commands, their words and options",
    () => {
      expect(bashComplete("firezonectl ")).toEqual(sorted(COMMAND_NAMES));
      expect(bashComplete("firezonectl si")).toEqual(["sign-in", "sign-out"]);
      expect(bashComplete("firezonectl settings ")).toEqual(["get", "set", "unset"]);
      expect(bashComplete("firezonectl settings set ")).toEqual(sorted(SETTING_KEYS));
      expect(bashComplete("firezonectl --socket /tmp/x internet-resource o")).toEqual(["off", "on"]);
      expect(bashComplete("firezonectl sign-in --token-")).toEqual(["--token-file", "--token-stdin"]);
      expect(bashComplete("firezonectl wait --timeout ")).toContain("30s");
      expect(bashComplete("firezonectl status --")).toEqual(["--help", "--json"]);
    },
  );

  test.skipIf(!has("zsh"))(
    "zsh: compinit registers _firezonectl, which completes commands and their words",
    () => {
      expect(zshComplete("firezonectl ")).toEqual(sorted(COMMAND_NAMES));
      expect(zshComplete("firezonectl settings ")).toEqual(["get", "set", "unset"]);
      expect(zshComplete("firezonectl settings get ")).toEqual(sorted(SETTING_KEYS));
      expect(zshComplete("firezonectl --socket /tmp/x internet-resource ")).toEqual(["off", "on", "status"]);
      expect(zshComplete("firezonectl sign-in --token-file ")).toEqual(["<files>"]);
      expect(zshComplete("firezonectl watch -")).toEqual(["--help", "--json"]);
    },
  );

  test.skipIf(!has("fish"))("fish completes commands, their words and options", () => {
    expect(fishComplete("firezonectl ")).toEqual(sorted(COMMAND_NAMES));
    expect(fishComplete("firezonectl settings ")).toEqual(["get", "set", "unset"]);
    expect(fishComplete("firezonectl settings set ")).toEqual(sorted(SETTING_KEYS));
    expect(fishComplete("firezonectl internet-resource ")).toEqual(["off", "on", "status"]);
    expect(fishComplete("firezonectl wait --")).toEqual(["--connected", "--json", "--timeout"]);
  });
});

describe("man pages", () => {
  test.skipIf(!has("man") || !has("groff"))(
    "man firezonectl renders every command and the exit codes; groff finds nothing to warn about",
    () => {
      ensureBuilt();
      const manpath = join(tmp, "man");
      for (const [section, page] of [
        ["man1", "firezonectl.1"],
        ["man8", "firezoned.8"],
      ] as const) {
        mkdirSync(join(manpath, section), { recursive: true });
        symlinkSync(join(MAN, page), join(manpath, section, page));
        const lint = sh(["groff", "-man", "-Tutf8", "-ww", "-z", join(MAN, page)]);
        expect(lint.err).toBe("");
      }
      const r = sh(["man", "-P", "cat", "firezonectl"], {
        MANPATH: manpath,
        MANWIDTH: "100",
        LANG: "C.UTF-8",
      });
      expect(r.code).toBe(0);
      for (const word of ["SYNOPSIS", "EXIT STATUS", "schemaVersion", ...COMMAND_NAMES])
        expect(r.out).toContain(word);
      expect(r.out).toContain("settings set KEY VALUE");
      expect(r.out).toContain("75");
      const d = sh(["man", "-P", "cat", "8", "firezoned"], {
        MANPATH: manpath,
        MANWIDTH: "100",
        LANG: "C.UTF-8",
      });
      expect(d.code).toBe(0);
      for (const word of ["SIGHUP", "portal_url", "dns_control", "FIREZONE_SOCKET"])
        expect(d.out).toContain(word);
    },
  );
});
