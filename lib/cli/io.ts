// What a command may touch, passed in so commands run in tests without a terminal.
import {
  type ClientOptions,
  connectDaemon,
  type DaemonClient,
  type MethodName,
  type Params,
  type Result,
} from "../ipc/index.ts";
import { JSON_SCHEMA_VERSION } from "./schema_version.ts";

export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
  env: Record<string, string | undefined>;
  /** Reads standard input, but stops after `maxBytes + 1` bytes, so a huge input is refused early. */
  readStdin: (maxBytes: number) => Promise<Uint8Array>;
  /** Whether standard output is a terminal. */
  isTty: () => boolean;
  /** Called once before exit: writes what out/err collected. */
  flush: () => Promise<void>;
}

// Output is collected and written once at exit with Bun.write: touching process.stdout costs a
// short-lived command several milliseconds of start-up, more than the whole request.
let pendingOut = "";
let pendingErr = "";
export const processIo: CliIo = {
  out: (text) => {
    pendingOut += text;
  },
  err: (text) => {
    pendingErr += text;
  },
  env: process.env,
  readStdin: (maxBytes) => readBounded(Bun.stdin.stream(), maxBytes),
  isTty: () => (require("node:tty") as typeof import("node:tty")).isatty(1),
  flush: async () => {
    const [out, err] = [pendingOut, pendingErr];
    pendingOut = pendingErr = "";
    if (out) await Bun.write(Bun.stdout, out);
    if (err) await Bun.write(Bun.stderr, err);
  },
};

/** Collects a stream's bytes up to `maxBytes + 1`, then stops reading. */
export async function readBounded(stream: ReadableStream<Uint8Array>, maxBytes: number): Promise<Uint8Array> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let length = 0;
  try {
    while (length <= maxBytes) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      length += value.length;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return Buffer.concat(chunks).subarray(0, maxBytes + 1);
}

/** Global options, taken out of argv before the subcommand parses the rest. */
export interface GlobalOptions {
  socket: string | undefined;
}

let current: { io: CliIo; globals: GlobalOptions } = { io: processIo, globals: { socket: undefined } };

export function setContext(io: CliIo, globals: GlobalOptions): void {
  current = { io, globals };
}

export function io(): CliIo {
  return current.io;
}

/** --socket, else FIREZONE_SOCKET, else the packaged default. */
export function clientOptions(): ClientOptions {
  const socketPath = current.globals.socket ?? (current.io.env.FIREZONE_SOCKET || undefined);
  // Only for test daemons that run unprivileged; never set in production.
  const requireRootPeer = current.io.env.FIREZONE_INSECURE_ALLOW_NONROOT_DAEMON !== "1";
  return { socketPath, requireRootPeer, timeoutMs: 10_000 };
}

/**
 * One request to firezoned, on a connection of its own. It is written only after the hello: a
 * request written earlier to a daemon that then refuses the caller makes the kernel reset the
 * connection, and the refusal, which says how to join the group, can be lost.
 */
export async function request<M extends MethodName>(method: M, params: Params<M>): Promise<Result<M>> {
  const client = await connectDaemon(clientOptions());
  try {
    // sign_in waits up to 10 s for the portal's first answer; give it room beyond that.
    return await client.call(method, params, { timeoutMs: method === "sign_in" ? 30_000 : 10_000 });
  } finally {
    client.close();
  }
}

/** Several requests on one connection, for reads that take more than one (paged resources). */
export async function withDaemon<T>(fn: (client: DaemonClient) => Promise<T>): Promise<T> {
  const client = await connectDaemon(clientOptions());
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}

/** A `--json` answer: an object that opens with `schemaVersion` (shapes in json_shapes.ts, docs/cli.md). */
export function printJson(value: object): void {
  current.io.out(`${JSON.stringify({ schemaVersion: JSON_SCHEMA_VERSION, ...value }, null, 2)}\n`);
}

/** One JSON object on one line (`watch --json`), for line-by-line readers such as `jq -c`. */
export function printJsonLine(value: object): void {
  current.io.out(`${JSON.stringify({ schemaVersion: JSON_SCHEMA_VERSION, ...value })}\n`);
}
