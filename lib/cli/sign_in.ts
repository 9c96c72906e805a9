import { closeSync, openSync, readSync } from "node:fs";
import { defineCommand } from "citty";
import { MAX_TOKEN_LENGTH } from "../ipc/index.ts";
import { DataError, UsageError } from "./exit_codes.ts";
import { io, printJson, request } from "./io.ts";
import { parseScopeArgs } from "./scope.ts";
import { formatStatus } from "./status.ts";

const TOKEN = /^[\x21-\x7e]+$/;

/**
 * Checks what was read before anything is sent: at most 8 KiB, text, one word of visible ASCII
 * (surrounding white space, such as the newline `echo` adds, is dropped).
 */
export function tokenFromBytes(bytes: Uint8Array, from: string): string {
  if (bytes.length > MAX_TOKEN_LENGTH)
    throw new DataError(
      `${from} holds more than ${MAX_TOKEN_LENGTH / 1024} KiB; a token is much shorter. Is it the right file? Nothing was sent.`,
    );
  const token = Buffer.from(bytes).toString("latin1").trim();
  if (!token) throw new UsageError(`the token from ${from} is empty`);
  if (!TOKEN.test(token))
    throw new DataError(
      `${from} is not a token: it holds binary data, control characters, spaces or non-ASCII text. ` +
        "A token is one line of visible ASCII; copy it again. Nothing was sent.",
    );
  return token;
}

function readTokenFile(path: string): Uint8Array {
  // Bounded even when the size lies (a pipe, /dev/zero): never more than 8 KiB + 1 bytes are read.
  const buf = Buffer.alloc(MAX_TOKEN_LENGTH + 1);
  let length = 0;
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (err) {
    throw new UsageError(`cannot read the token file ${path}: ${(err as Error).message}`);
  }
  try {
    for (;;) {
      const n = readSync(fd, buf, length, buf.length - length, null);
      length += n;
      if (n === 0 || length === buf.length) break;
    }
  } catch (err) {
    throw new UsageError(`cannot read the token file ${path}: ${(err as Error).message}`);
  } finally {
    closeSync(fd);
  }
  return buf.subarray(0, length);
}

/** The token never comes from argv (other users can read /proc/<pid>/cmdline). */
async function readToken(args: { "token-stdin"?: boolean; "token-file"?: string }): Promise<string> {
  if (args["token-stdin"] && args["token-file"])
    throw new UsageError("give either --token-stdin or --token-file, not both");
  if (args["token-stdin"]) return tokenFromBytes(await io().readStdin(MAX_TOKEN_LENGTH), "standard input");
  const path = args["token-file"];
  if (path) return tokenFromBytes(readTokenFile(path), `the token file ${path}`);
  throw new UsageError(
    "say where the token comes from: --token-stdin or --token-file FILE (never on the command line)",
  );
}

export const signInCommand = defineCommand({
  meta: { name: "sign-in", description: "Sign the tunnel in with a token read from stdin or a file" },
  args: {
    "token-stdin": { type: "boolean", description: "Read the token from standard input" },
    "token-file": { type: "string", description: "Read the token from FILE", valueHint: "FILE" },
    json: { type: "boolean", description: "Print the resulting status as JSON" },
    scope: {
      type: "string",
      description: "Who may use the tunnel: user (you and root), system (everyone), app (with --cgroup)",
      valueHint: "SCOPE",
    },
    cgroup: { type: "string", description: "For --scope app: the cgroup v2 path", valueHint: "PATH" },
  },
  run: async ({ args }) => {
    const scope = parseScopeArgs(args.scope, args.cgroup);
    const token = await readToken(args);
    const st = await request("sign_in", { token, ...(scope ?? {}) });
    if (args.json) printJson(st);
    else io().out(formatStatus(st));
  },
});
