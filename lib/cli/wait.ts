// `firezonectl wait --connected [--timeout 30s]`: for scripts that need the tunnel before they go
// on. Exit codes (docs/cli.md): 0 connected, 75 still not connected at the timeout, 78 no portal
// configured (it cannot connect without an administrator), 69 firezoned unreachable or gone.
import { defineCommand } from "citty";
import type { Status } from "../ipc/index.ts";
import { FzError } from "../types/index.ts";
import { displayText } from "../util/index.ts";
import { EXIT, SilentExit, UsageError } from "./exit_codes.ts";
import { follow } from "./follow.ts";
import { io, printJson } from "./io.ts";

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
/** Longer than any script should wait; also keeps setTimeout within its 32-bit range. */
const MAX_TIMEOUT_MS = 24 * 3_600_000;

/** `30s`, `2m`, `500ms`, `1h` or a number of seconds; 0 waits without limit. */
export function parseTimeout(text: string): number {
  const m = /^(\d{1,9}(?:\.\d{1,3})?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m)
    throw new UsageError(`--timeout '${text.slice(0, 40)}' is not a duration; write e.g. 30s, 2m or 500ms`);
  const ms = Math.round(Number(m[1]) * UNITS[m[2] ?? "s"]!);
  if (ms > MAX_TIMEOUT_MS) throw new UsageError("--timeout is at most 24h (0 waits without limit)");
  return ms;
}

export const waitCommand = defineCommand({
  meta: {
    name: "wait",
    description: "Wait until the tunnel is connected, for scripts (exit 0, or 75 at the timeout)",
  },
  args: {
    connected: { type: "boolean", description: "Wait for the state connected" },
    timeout: {
      type: "string",
      description: "Give up after DURATION (default 30s; 0: no limit)",
      valueHint: "DURATION",
    },
    json: { type: "boolean", description: "Print the outcome as JSON" },
  },
  run: async ({ args }) => {
    if (!args.connected) throw new UsageError("say what to wait for: firezonectl wait --connected");
    const timeoutMs = parseTimeout((args.timeout as string | undefined) ?? "30s");
    const started = Date.now();
    const deadline = timeoutMs === 0 ? undefined : started + timeoutMs;
    const f = await follow();
    let status: Status = f.initial;
    try {
      while (status.state !== "connected" && status.state !== "not_configured") {
        const event = await f.next(deadline);
        if (!event) break;
        if (event.kind === "status") status = event.status;
      }
    } finally {
      f.close();
    }
    const reached = status.state === "connected";
    const waitedMs = Date.now() - started;
    if (args.json) printJson({ reached, waitedMs, status });
    if (status.state === "not_configured")
      throw new FzError("not_configured", status.lastError ?? "firezoned has no portal configured");
    if (reached) {
      if (!args.json) io().out(`Connected${status.actor ? ` as ${displayText(status.actor, 256)}` : ""}\n`);
      return;
    }
    if (!args.json) {
      const why = status.lastError ? `; last error: ${displayText(status.lastError, 512)}` : "";
      io().err(
        `firezonectl: still ${status.state.replace("_", " ")} after ${timeoutMs / 1000} s${why}. ` +
          "See firezonectl status; sign in with the tray or firezonectl sign-in.\n",
      );
    }
    throw new SilentExit(EXIT.tempFail);
  },
});
