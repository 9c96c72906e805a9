// `firezonectl watch [--json]`: the tunnel's status and resource changes as they happen, until
// interrupted; with --json one object per line (docs/cli.md).
import { defineCommand } from "citty";
import type { Status } from "../ipc/index.ts";
import { displayText } from "../util/index.ts";
import { SilentExit } from "./exit_codes.ts";
import { follow } from "./follow.ts";
import { io, printJsonLine } from "./io.ts";
import { formatStatus } from "./status.ts";

/** One line per status: the headline of `status`, the resource count and the last error. */
export function statusLine(st: Status): string {
  const headline = formatStatus(st).split("\n")[0]!;
  const parts = [headline];
  if (st.state === "connected" || st.state === "reconnecting") parts.push(`${st.resourceCount} resources`);
  if (st.lastError) parts.push(`last error: ${displayText(st.lastError, 512)}`);
  return parts.join("; ");
}

/** Writes at once: a watcher reads line by line. A reader that went away (a closed pipe) ends the watch. */
async function emit(): Promise<void> {
  try {
    await io().flush();
  } catch {
    throw new SilentExit(0);
  }
}

export const watchCommand = defineCommand({
  meta: { name: "watch", description: "Follow status and resource changes as they happen (Ctrl-C ends)" },
  args: { json: { type: "boolean", description: "Print one JSON object per line" } },
  run: async ({ args }) => {
    const f = await follow();
    const time = () => new Date().toISOString();
    const clock = () => time().slice(11, 19);
    try {
      if (args.json) printJsonLine({ event: "status", time: time(), status: f.initial });
      else io().out(`${clock()}  ${statusLine(f.initial)}\n`);
      await emit();
      for (;;) {
        const event = (await f.next())!;
        if (event.kind === "status") {
          if (args.json) printJsonLine({ event: "status", time: time(), status: event.status });
          else io().out(`${clock()}  ${statusLine(event.status)}\n`);
        } else if (args.json) {
          printJsonLine({ event: "resources", time: time(), version: event.version, total: event.total });
        } else io().out(`${clock()}  Resources changed: ${event.total} in all (firezonectl resources)\n`);
        await emit();
      }
    } finally {
      f.close();
    }
  },
});
