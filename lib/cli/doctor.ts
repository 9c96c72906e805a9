// `firezonectl doctor`: every check of a working set-up, each a pass/fail line with the exact fix.
// The caller's checks run here; the daemon's (portal, routes, DNS, TUN, WireGuard) come over IPC.
import { defineCommand } from "citty";
import { type Check, connectDaemon, DEFAULT_SOCKET, DIAGNOSTICS_SCHEMA_VERSION } from "../ipc/index.ts";
import { FzError } from "../types/index.ts";
import { displayText } from "../util/index.ts";
import { checkDesktop, checkGroup, checkSocket, checkUnit, currentCaller, userName } from "./doctor_local.ts";
import { EXIT, SilentExit } from "./exit_codes.ts";
import { clientOptions, io, printJson } from "./io.ts";

export interface DoctorReport {
  schemaVersion: number;
  /** True when no check failed (skipped checks do not apply here). */
  ok: boolean;
  checks: Check[];
}

/** Longest the daemon may take for its checks: the portal's four steps time out at 5 s each. */
const DIAGNOSE_TIMEOUT_MS = 40_000;

function daemonFix(err: FzError): string {
  switch (err.code) {
    case "permission_denied":
      return "see the access check above";
    case "protocol_mismatch":
      return "sudo systemctl restart firezoned   # after installing matching versions";
    case "untrusted_daemon":
      return "sudo systemctl restart firezoned   # and find what created the socket";
    default:
      return "sudo systemctl start firezoned";
  }
}

/** False only when the kernel would refuse this process the socket (EACCES), judged by access(2) alone. */
function mayOpen(socketPath: string): boolean {
  const { accessSync, constants } = require("node:fs") as typeof import("node:fs");
  try {
    accessSync(socketPath, constants.R_OK | constants.W_OK);
    return true;
  } catch (err) {
    return (err as { code?: string }).code !== "EACCES";
  }
}

async function daemonChecks(): Promise<Check[]> {
  const title = "firezoned answers";
  const opts = clientOptions();
  // A socket this session may not open is not connected to: the client's own diagnosis of a refused
  // connect asks the group database in-process, which a hung LDAP or SSSD would stall for good.
  const socketPath = opts.socketPath ?? DEFAULT_SOCKET;
  if (!mayOpen(socketPath))
    return [
      {
        id: "daemon",
        title,
        status: "fail",
        detail: `this session may not open ${socketPath}`,
        fix: "see the access check above",
      },
      {
        id: "daemon_checks",
        title: "Checks from firezoned's side",
        status: "skip",
        detail: "firezoned is not reachable: portal, routes, DNS, TUN and WireGuard were not checked",
      },
    ];
  let client: Awaited<ReturnType<typeof connectDaemon>>;
  try {
    client = await connectDaemon({ ...opts, timeoutMs: 5000 });
  } catch (err) {
    const e = err instanceof FzError ? err : new FzError("internal", String(err));
    return [
      { id: "daemon", title, status: "fail", detail: e.message.split("\n")[0]!, fix: daemonFix(e) },
      {
        id: "daemon_checks",
        title: "Checks from firezoned's side",
        status: "skip",
        detail: "firezoned is not reachable: portal, routes, DNS, TUN and WireGuard were not checked",
      },
    ];
  }
  try {
    const h = client.hello;
    const head: Check = {
      id: "daemon",
      title,
      status: "pass",
      detail: `firezoned ${h.daemonVersion} (protocol ${h.protocol}), pid ${h.pid}; you are ${h.tier ?? "unknown"}`,
    };
    try {
      const { checks } = await client.call("diagnose", {}, { timeoutMs: DIAGNOSE_TIMEOUT_MS });
      return [head, ...checks];
    } catch (err) {
      const e = err instanceof FzError ? err : new FzError("internal", String(err));
      return [
        head,
        {
          id: "daemon_checks",
          title: "Checks from firezoned's side",
          status: "fail",
          detail: `firezoned could not run its checks: ${e.message}`,
          fix:
            e.code === "unknown_method"
              ? "sudo systemctl restart firezoned   # an older firezoned without doctor support"
              : "firezonectl logs --since 10m",
        },
      ];
    }
  } finally {
    client.close();
  }
}

/** Runs every check. Never throws for a broken set-up: that is what it reports. */
export async function runDoctor(env: Record<string, string | undefined>): Promise<DoctorReport> {
  const uid = process.getuid?.() ?? -1;
  const caller = currentCaller(uid === 0 ? "root" : await userName(uid));
  const socketPath = clientOptions().socketPath ?? DEFAULT_SOCKET;
  const [unit, socket, group, fromDaemon, desktop] = await Promise.all([
    checkUnit(),
    checkSocket(socketPath),
    checkGroup(socketPath, caller),
    daemonChecks(),
    checkDesktop(env, caller),
  ]);
  const checks = [unit, socket, group, ...fromDaemon, ...desktop];
  return { schemaVersion: DIAGNOSTICS_SCHEMA_VERSION, ok: !checks.some((c) => c.status === "fail"), checks };
}

const MARK = { pass: "[ OK ]", fail: "[FAIL]", skip: "[SKIP]" } as const;

/** Human form: one line per check, its fix under a failure, a summary last. Daemon text is escaped. */
export function formatDoctor(report: DoctorReport): string {
  const show = (s: string) => displayText(s, 1024);
  const lines: string[] = [];
  for (const c of report.checks) {
    lines.push(`${MARK[c.status]} ${show(c.title)}: ${show(c.detail)}`);
    if (c.status === "fail" && c.fix) lines.push(`       Fix: ${show(c.fix)}`);
  }
  const n = (s: Check["status"]) => report.checks.filter((c) => c.status === s).length;
  lines.push(
    "",
    report.ok
      ? `All checks passed (${n("pass")} passed, ${n("skip")} skipped).`
      : `${n("fail")} failed, ${n("pass")} passed, ${n("skip")} skipped. Run the Fix lines above, then firezonectl doctor again.`,
  );
  return `${lines.join("\n")}\n`;
}

export const doctorCommand = defineCommand({
  meta: {
    name: "doctor",
    description: "Check this machine's set-up, each check with the exact fix; exit 0 only when all pass",
  },
  args: { json: { type: "boolean", description: "Print JSON" } },
  run: async ({ args }) => {
    const report = await runDoctor(io().env);
    if (args.json) printJson(report);
    else io().out(formatDoctor(report));
    if (!report.ok) throw new SilentExit(EXIT.other);
  },
});
