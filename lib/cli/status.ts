import { defineCommand } from "citty";
import type { Status } from "../ipc/index.ts";
import { displayText } from "../util/index.ts";
import { io, printJson, request } from "./io.ts";

const STATE_TEXT: Record<Status["state"], string> = {
  not_configured: "Not configured",
  signed_out: "Signed out",
  connecting: "Connecting",
  connected: "Connected",
  reconnecting: "Reconnecting",
};

function duration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return h > 0 ? `${h}h ${m}m` : m > 0 ? `${m}m ${s}s` : `${s}s`;
}

/** The Internet Resource in a few words; `firezonectl internet-resource` says more. */
function internetLine(ir: NonNullable<Status["internetResource"]>): string {
  if (!ir.enabled) return "off (offered: firezonectl internet-resource on)";
  if (ir.active) return `all traffic through the tunnel${ir.allowLan ? ", LAN direct" : ""}`;
  return ir.available ? "on, not in force yet" : "on, but not offered by your account";
}

/** Who may send into the tunnel, in words (docs/security.md, "Session scope"). */
function scopeLine(st: Status): string {
  const owner = st.owner?.user ?? "the owner";
  switch (st.scope) {
    case "user":
      return `user: only ${owner}'s programs and root's may use the tunnel`;
    case "app":
      return `app: only ${owner}'s programs in cgroup ${st.scopeCgroup ?? "?"} (and root's)`;
    default:
      return "system: every program on this machine may use the tunnel";
  }
}

/**
 * The human form of `status`: one headline, then aligned fields, like `systemctl status`. Every
 * value that may come from the portal (names, addresses, error texts) is escaped for the terminal.
 */
export function formatStatus(st: Status): string {
  const show = (text: string) => displayText(text, 512);
  const who = st.actor ? ` as ${show(st.actor)}${st.account ? ` (${show(st.account)})` : ""}` : "";
  const cause = st.state === "reconnecting" && st.reconnectCause ? ` (${show(st.reconnectCause)})` : "";
  const lines = [`${STATE_TEXT[st.state]}${cause}${who}`];
  const field = (name: string, value: string) =>
    lines.push(`  ${(name ? `${name}:` : "").padEnd(11)} ${show(value)}`);
  field("Mode", st.mode === "service" ? "service (service-account token)" : "interactive");
  if (st.owner) field("Owner", `${st.owner.user} (uid ${st.owner.uid})`);
  if (st.scope) field("Scope", scopeLine(st));
  if (st.interfaceName || st.addresses?.length) {
    field("Interface", [st.interfaceName, ...(st.addresses ?? [])].filter(Boolean).join(" "));
  }
  if (st.portalUrl) field("Portal", st.portalUrl);
  if (st.dnsMode) {
    const servers = st.dnsServers?.length ? st.dnsServers.join(" ") : "not applied";
    const upstream = st.dnsUpstreams?.length ? st.dnsUpstreams.join(" ") : "none";
    const search = st.dnsSearchDomains?.length ? `, search ${st.dnsSearchDomains.join(" ")}` : "";
    field("DNS", `${st.dnsMode}: ${servers} (upstream ${upstream}${search})`);
  }
  if (st.state !== "signed_out" && st.state !== "not_configured")
    field("Resources", String(st.resourceCount));
  const ir = st.internetResource;
  if (ir && (ir.enabled || ir.available)) field("Internet", internetLine(ir));
  if (st.lastError) field(st.state === "not_configured" ? "Problem" : "Last error", st.lastError);
  for (const w of st.warnings ?? []) field("Warning", w);
  if (st.lastReset) field("Last reset", `${st.lastReset.cause}, ${st.lastReset.at}`);
  field("Daemon", `firezoned ${st.daemonVersion}, pid ${st.pid}, up ${duration(st.uptimeSeconds)}`);
  if (st.state === "signed_out" && st.mode === "interactive") {
    lines.push("", "Sign in with the Firezone tray, or: firezonectl sign-in --token-stdin");
  }
  return `${lines.join("\n")}\n`;
}

export const statusCommand = defineCommand({
  meta: { name: "status", description: "Show the tunnel's state, account, addresses and last error" },
  args: { json: { type: "boolean", description: "Print JSON" } },
  run: async ({ args }) => {
    const st = await request("status", {});
    if (args.json) printJson(st);
    else io().out(formatStatus(st));
  },
});
