// `firezonectl completion bash|zsh|fish`: the same scripts `bun run build` writes to dist/completions.
import { defineCommand } from "citty";
import { UsageError } from "./exit_codes.ts";
import { io } from "./io.ts";

export const completionCommand = defineCommand({
  meta: { name: "completion", description: "Print the shell completion script for bash, zsh or fish" },
  args: { shell: { type: "positional", required: false, description: "bash, zsh or fish" } },
  run: async ({ args }) => {
    // Loaded here: the generator imports the command table, which imports this command.
    const { completionScript, isShell } = await import("./completion.ts");
    const shell = args.shell as string | undefined;
    if (!shell || !isShell(shell)) throw new UsageError("'completion' takes bash, zsh or fish");
    io().out(completionScript(shell));
  },
});
