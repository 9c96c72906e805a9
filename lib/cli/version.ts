import { defineCommand } from "citty";
import { PROTOCOL_VERSION } from "../ipc/index.ts";
import { FzError, VERSION } from "../types/index.ts";
import { exitCodeFor, SilentExit } from "./exit_codes.ts";
import { io, printJson, request } from "./io.ts";

export const versionCommand = defineCommand({
  meta: { name: "version", description: "Show the versions of firezonectl and of the running firezoned" },
  args: { json: { type: "boolean", description: "Print JSON" } },
  run: async ({ args }) => {
    const client = { version: VERSION, protocol: PROTOCOL_VERSION };
    let daemon: { version: string; protocol: number } | null = null;
    let problem: FzError | null = null;
    try {
      const v = await request("version", {});
      daemon = { version: v.daemonVersion, protocol: v.protocol };
    } catch (err) {
      if (!(err instanceof FzError)) throw err;
      problem = err;
    }
    if (args.json) {
      printJson({
        client,
        daemon,
        ...(problem ? { error: { code: problem.code, message: problem.message } } : {}),
      });
    } else {
      io().out(`firezonectl ${VERSION} (protocol ${PROTOCOL_VERSION})\n`);
      io().out(
        daemon
          ? `firezoned   ${daemon.version} (protocol ${daemon.protocol})\n`
          : `firezoned   unknown: ${problem?.message}\n`,
      );
    }
    if (problem) throw new SilentExit(exitCodeFor(problem));
  },
});
