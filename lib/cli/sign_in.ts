import { defineCommand } from "citty";
import { UsageError } from "./exit_codes.ts";
import { io, printJson, request } from "./io.ts";
import { formatStatus } from "./status.ts";

/** The token never comes from argv (other users can read /proc/<pid>/cmdline). */
async function readToken(args: { "token-stdin"?: boolean; "token-file"?: string }): Promise<string> {
  if (args["token-stdin"] && args["token-file"])
    throw new UsageError("give either --token-stdin or --token-file, not both");
  let raw: string;
  if (args["token-stdin"]) raw = await io().readStdin();
  else if (args["token-file"]) {
    try {
      raw = await Bun.file(args["token-file"]).text();
    } catch (err) {
      throw new UsageError(`cannot read the token file ${args["token-file"]}: ${(err as Error).message}`);
    }
  } else
    throw new UsageError(
      "say where the token comes from: --token-stdin or --token-file FILE (never on the command line)",
    );
  const token = raw.trim();
  if (!token) throw new UsageError("the token is empty");
  return token;
}

export const signInCommand = defineCommand({
  meta: { name: "sign-in", description: "Sign the tunnel in with a token read from stdin or a file" },
  args: {
    "token-stdin": { type: "boolean", description: "Read the token from standard input" },
    "token-file": { type: "string", description: "Read the token from FILE", valueHint: "FILE" },
    json: { type: "boolean", description: "Print the resulting status as JSON" },
  },
  run: async ({ args }) => {
    const token = await readToken(args);
    const st = await request("sign_in", { token });
    if (args.json) printJson(st);
    else io().out(formatStatus(st));
  },
});
