// Shell completion scripts for bash, zsh and fish, generated from the command table (commands.ts).
// Every word they offer comes from that table, so a completion never offers what the CLI refuses.
import { COMMANDS, type CommandEntry, optionsOf, SHELLS } from "./commands.ts";

export type Shell = (typeof SHELLS)[number];

export function isShell(name: string): name is Shell {
  return (SHELLS as readonly string[]).includes(name);
}

/** Where `bun run build` writes each script, and the name each shell looks for. */
export const COMPLETION_FILES: Record<Shell, string> = {
  bash: "firezonectl.bash",
  zsh: "_firezonectl",
  fish: "firezonectl.fish",
};

const GLOBAL_OPTIONS = [
  { name: "socket", value: "PATH", description: "firezoned's socket" },
  { name: "help", value: null, description: "Show help" },
  { name: "version", value: null, description: "Show the version" },
];

// The table's words are plain (letters, digits, _ and -); checked so none can break out of a quote.
const WORD = /^[A-Za-z0-9_.-]+$/;
function word(w: string): string {
  if (!WORD.test(w)) throw new Error(`completion word '${w}' is not plain`);
  return w;
}

/** A description inside single quotes, for zsh and fish. */
function quoted(text: string): string {
  return `'${text.replaceAll("'", "'\\''")}'`;
}

function description(entry: CommandEntry): string {
  return (entry.command.meta as { description?: string } | undefined)?.description ?? "";
}

/** Options that take a value, whose next word is not a positional argument. */
function valueOptions(): string[] {
  const names = new Set(["--socket"]);
  for (const entry of Object.values(COMMANDS))
    for (const o of optionsOf(entry)) if (o.value) names.add(`--${word(o.name)}`);
  return [...names];
}

/**
 * The shell loop both scripts share: the words before the cursor give the command (`cmd`, the first
 * word that is not an option nor an option's value) and how many positional words follow it (`npos`).
 */
function findCommand(first: string, end: string): string {
  return `\tfor ((i = ${first}; i < ${end}; i++)); do
\t\tcase \${words[i]} in
\t\t${valueOptions().join(" | ")}) ((i++)) ;;
\t\t-*) ;;
\t\t*) if [[ -z $cmd ]]; then cmd=\${words[i]}; else ((npos++)); fi ;;
\t\tesac
\tdone`;
}

function bash(): string {
  const commands = Object.keys(COMMANDS).map(word).join(" ");
  const arms = Object.entries(COMMANDS).map(([name, entry]) => {
    const opts = [...optionsOf(entry).map((o) => `--${word(o.name)}`), "--help"].join(" ");
    const values = Object.entries(entry.optionValues ?? {}).map(([opt, v]) =>
      v === "file"
        ? `\t\t--${word(opt)}) COMPREPLY=($(compgen -f -- "$cur")); return ;;`
        : `\t\t--${word(opt)}) COMPREPLY=($(compgen -W "${v.map(word).join(" ")}" -- "$cur")); return ;;`,
    );
    const positions = (entry.words ?? []).map(
      (ws, i) => `\t\t${i}) COMPREPLY=($(compgen -W "${ws.map(word).join(" ")}" -- "$cur")) ;;`,
    );
    return [
      `\t${word(name)})`,
      values.length ? `\t\tcase $prev in\n\t${values.join("\n\t")}\n\t\tesac` : "",
      `\t\tif [[ $cur == -* ]]; then COMPREPLY=($(compgen -W "${opts}" -- "$cur")); return; fi`,
      positions.length ? `\t\tcase $npos in\n\t${positions.join("\n\t")}\n\t\tesac` : "",
      "\t\t;;",
    ]
      .filter(Boolean)
      .join("\n");
  });
  return `# bash completion for firezonectl, generated from its command table. Do not edit.
_firezonectl() {
	local cur prev words cword
	if declare -F _init_completion >/dev/null 2>&1; then
		_init_completion || return
	else
		COMPREPLY=()
		cur=\${COMP_WORDS[COMP_CWORD]}
		prev=\${COMP_WORDS[COMP_CWORD - 1]}
		words=("\${COMP_WORDS[@]}")
		cword=$COMP_CWORD
	fi
	local i cmd="" npos=0
${findCommand("1", "cword")}
	if [[ -z $cmd ]]; then
		case $prev in
		--socket) COMPREPLY=($(compgen -f -- "$cur")); return ;;
		esac
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "${GLOBAL_OPTIONS.map((o) => `--${o.name}`).join(" ")}" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "${commands}" -- "$cur"))
		fi
		return
	fi
	case $cmd in
${arms.join("\n")}
	esac
}
complete -F _firezonectl firezonectl
`;
}

/** `name:description` pairs for zsh's _describe (a colon in the name part would split it). */
function describePairs(pairs: Array<[string, string]>): string {
  return pairs.map(([n, d]) => quoted(`${n.replaceAll(":", "\\:")}:${d}`)).join(" ");
}

function zsh(): string {
  const commands = describePairs(Object.entries(COMMANDS).map(([name, e]) => [word(name), description(e)]));
  const arms = Object.entries(COMMANDS).map(([name, entry]) => {
    const opts = describePairs([
      ...optionsOf(entry).map((o): [string, string] => [`--${word(o.name)}`, o.description]),
      ["--help", "Show help for this command"],
    ]);
    const values = Object.entries(entry.optionValues ?? {}).map(([opt, v]) =>
      v === "file"
        ? `\t\t--${word(opt)}) _files; return ;;`
        : `\t\t--${word(opt)}) compadd -- ${v.map(word).join(" ")}; return ;;`,
    );
    const positions = (entry.words ?? []).map((ws, i) => `\t\t${i}) compadd -- ${ws.map(word).join(" ")} ;;`);
    return [
      `\t${word(name)})`,
      values.length ? `\t\tcase \${words[CURRENT-1]} in\n\t${values.join("\n\t")}\n\t\tesac` : "",
      `\t\tif [[ \${words[CURRENT]} == -* ]]; then opts=(${opts}); _describe -t options option opts; return; fi`,
      positions.length ? `\t\tcase $npos in\n\t${positions.join("\n\t")}\n\t\tesac` : "",
      "\t\t;;",
    ]
      .filter(Boolean)
      .join("\n");
  });
  const globals = describePairs(GLOBAL_OPTIONS.map((o) => [`--${o.name}`, o.description]));
  return `#compdef firezonectl
# zsh completion for firezonectl, generated from its command table. Do not edit.
_firezonectl() {
	local -a commands opts
	local i cmd= npos=0
	commands=(${commands})
${findCommand("2", "CURRENT")}
	if [[ -z $cmd ]]; then
		case \${words[CURRENT-1]} in
		--socket) _files; return ;;
		esac
		if [[ \${words[CURRENT]} == -* ]]; then opts=(${globals}); _describe -t options option opts; return; fi
		_describe -t commands 'firezonectl command' commands
		return
	fi
	case $cmd in
${arms.join("\n")}
	esac
}
_firezonectl "$@"
`;
}

function fish(): string {
  const lines = [
    "# fish completion for firezonectl, generated from its command table. Do not edit.",
    "# Prints the subcommand and how many positional words follow it so far, as CMD:N.",
    "function __firezonectl_position",
    "    set -l tokens (commandline -opc)",
    "    set -e tokens[1]",
    "    set -l cmd ''",
    "    set -l count 0",
    "    set -l skip 0",
    "    for t in $tokens",
    "        if test $skip = 1",
    "            set skip 0",
    "            continue",
    "        end",
    "        switch $t",
    `            case ${valueOptions().join(" ")}`,
    "                set skip 1",
    "            case '-*'",
    "            case '*'",
    '                if test -z "$cmd"',
    "                    set cmd $t",
    "                else",
    "                    set count (math $count + 1)",
    "                end",
    "        end",
    "    end",
    '    echo "$cmd:$count"',
    "end",
    "complete -c firezonectl -f",
    "complete -c firezonectl -n 'test (__firezonectl_position) = :0' -l socket -r -F -d 'firezoned socket'",
  ];
  for (const [name, entry] of Object.entries(COMMANDS)) {
    lines.push(
      `complete -c firezonectl -n 'test (__firezonectl_position) = :0' -a ${word(name)} -d ${quoted(description(entry))}`,
    );
    const inCmd = `string match -q '${word(name)}:*' (__firezonectl_position)`;
    for (const o of optionsOf(entry)) {
      const v = entry.optionValues?.[o.name];
      const value = !o.value ? "" : v === "file" ? " -r -F" : v ? ` -x -a '${v.map(word).join(" ")}'` : " -x";
      lines.push(
        `complete -c firezonectl -n ${quoted(inCmd)} -l ${word(o.name)}${value} -d ${quoted(o.description)}`,
      );
    }
    for (const [i, ws] of (entry.words ?? []).entries()) {
      lines.push(
        `complete -c firezonectl -n 'test (__firezonectl_position) = ${word(name)}:${i}' -a '${ws.map(word).join(" ")}'`,
      );
    }
  }
  return `${lines.join("\n")}\n`;
}

export function completionScript(shell: Shell): string {
  return shell === "bash" ? bash() : shell === "zsh" ? zsh() : fish();
}
