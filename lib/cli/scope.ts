// `firezonectl scope`: who may send into the tunnel of the running session (docs/security.md).
import { defineCommand } from "citty";
import * as v from "valibot";
import { CgroupPath, SessionScope } from "../ipc/index.ts";
import { UsageError } from "./exit_codes.ts";
import { io, printJson, request } from "./io.ts";
import { formatStatus } from "./status.ts";

type ScopeArgs = { scope: "system" | "user" } | { scope: "app"; cgroup: string };

/** --scope and --cgroup, checked here so a typo is a usage error and nothing is sent. */
export function parseScopeArgs(scope: string | undefined, cgroup: string | undefined): ScopeArgs | undefined {
  if (scope === undefined) {
    if (cgroup !== undefined) throw new UsageError("--cgroup goes with --scope app");
    return undefined;
  }
  const s = v.safeParse(SessionScope, scope);
  if (!s.success) throw new UsageError(`'${scope.slice(0, 40)}' is not a scope; use user, system or app`);
  if (s.output !== "app") {
    if (cgroup !== undefined) throw new UsageError("--cgroup goes with --scope app only");
    return { scope: s.output };
  }
  if (cgroup === undefined)
    throw new UsageError(
      "--scope app needs --cgroup PATH, e.g. the CGroup: line of systemctl --user status firezone-app-NAME.scope",
    );
  const c = v.safeParse(CgroupPath, cgroup.replace(/^\/+/, ""));
  if (!c.success) throw new UsageError(`--cgroup: ${c.issues[0]?.message}`);
  return { scope: "app", cgroup: c.output };
}

export const scopeCommand = defineCommand({
  meta: { name: "scope", description: "Show or change who may use the tunnel: user, system or app" },
  args: {
    scope: { type: "positional", required: false, description: "user, system or app", valueHint: "SCOPE" },
    cgroup: { type: "string", description: "For app: the cgroup v2 path", valueHint: "PATH" },
    json: { type: "boolean", description: "Print the resulting status as JSON" },
  },
  run: async ({ args }) => {
    const wanted = parseScopeArgs(args.scope as string | undefined, args.cgroup);
    const st = wanted ? await request("set_scope", wanted) : await request("status", {});
    if (args.json) printJson(st);
    else io().out(formatStatus(st));
  },
});
