// `firezonectl watch [--json]`: the tunnel's status and resource changes as they happen, until
// interrupted; with --json one object per line (docs/cli.md). A firezoned that stops or restarts
// meanwhile is waited for, as `nmcli monitor` does: an upgrade or a restart does not end the watch.
import { defineCommand } from "citty";
import { isNotRunning, type Status } from "../ipc/index.ts";
import { FzError } from "../types/index.ts";
import { displayText } from "../util/index.ts";
import { SilentExit } from "./exit_codes.ts";
import { type Follower, follow } from "./follow.ts";
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

/** How often a watch whose daemon went away tries to reach it again. */
const RETRY_MS = 1000;

export const watchCommand = defineCommand({
  meta: { name: "watch", description: "Follow status and resource changes as they happen (Ctrl-C ends)" },
  args: { json: { type: "boolean", description: "Print one JSON object per line" } },
  run: async ({ args }) => {
    const time = () => new Date().toISOString();
    const clock = () => time().slice(11, 19);
    const status = (st: Status) => {
      if (args.json) printJsonLine({ event: "status", time: time(), status: st });
      else io().out(`${clock()}  ${statusLine(st)}\n`);
    };
    const daemon = (state: "stopped" | "started") => {
      if (args.json) printJsonLine({ event: "daemon", time: time(), state });
      else
        io().out(
          `${clock()}  ${state === "stopped" ? "firezoned stopped; waiting for it to start again" : "firezoned started"}\n`,
        );
    };
    // Not running at the start is an answer (69); once watching, a restart is one more event.
    let f = await follow();
    for (;;) {
      try {
        status(f.initial);
        await emit();
        for (;;) {
          const event = (await f.next())!;
          if (event.kind === "status") status(event.status);
          else if (args.json)
            printJsonLine({ event: "resources", time: time(), version: event.version, total: event.total });
          else io().out(`${clock()}  Resources changed: ${event.total} in all (firezonectl resources)\n`);
          await emit();
        }
      } catch (err) {
        if (!(err instanceof FzError) || err.code !== "daemon_unreachable") throw err;
      } finally {
        f.close();
      }
      daemon("stopped");
      await emit();
      f = await reconnect();
      daemon("started");
    }
  },
});

/** Tries until firezoned serves again; any other answer (refused, not firezoned) ends the watch. */
async function reconnect(): Promise<Follower> {
  for (;;) {
    await Bun.sleep(RETRY_MS);
    try {
      return await follow();
    } catch (err) {
      if (!isNotRunning(err)) throw err;
    }
  }
}
