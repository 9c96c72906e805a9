// The daemon's parts of a debug bundle: what only root (or the daemon's namespace) can see. Every
// section is redacted here, before it leaves the daemon, and firezonectl redacts the whole bundle
// again. The total stays under DEBUG_INFO_BYTES, far below the IPC frame cap.
import { readFileSync } from "node:fs";
import { release } from "node:os";
import { DEBUG_INFO_BYTES, type DebugSection } from "../ipc/index.ts";
import { Rtnetlink } from "../netlink/index.ts";
import { VERSION } from "../types/index.ts";
import { redactSecrets } from "../util/index.ts";
import type { DiagnosticsSource } from "./diagnostics.ts";

const MAX_SECTION = 128 * 1024;

function readText(path: string, max = 64 * 1024): string {
  try {
    return readFileSync(path, "utf8").slice(0, max);
  } catch (err) {
    return `(cannot read ${path}: ${(err as Error).message})`;
  }
}

function netlinkSections(src: DiagnosticsSource): DebugSection[] {
  let rt: Rtnetlink | null = null;
  try {
    rt = new Rtnetlink();
    const links = rt.links();
    const name = (i: number) => links.find((l) => l.index === i)?.name ?? String(i);
    const addrs = rt.addresses();
    const iface = links
      .map((l) => {
        const a = addrs.filter((x) => x.index === l.index).map((x) => x.cidr);
        return `${l.index}: ${l.name} ${l.kind ?? "-"} mtu ${l.mtu} ${l.up ? "UP" : "DOWN"}${a.length ? ` ${a.join(" ")}` : ""}`;
      })
      .join("\n");
    const routes = rt
      .routes()
      .map(
        (r) =>
          `${r.dst} table ${r.table}${r.oif ? ` dev ${name(r.oif)}` : ""} proto ${r.protocol} scope ${r.scope} type ${r.type} metric ${r.metric}`,
      )
      .join("\n");
    const rules = rt
      .rules()
      .map(
        (r) =>
          `${r.priority}: ${r.invert ? "not " : ""}${r.fwmark !== undefined ? `fwmark 0x${r.fwmark.toString(16)} ` : ""}lookup ${r.table}${r.suppressPrefixLength !== undefined ? ` suppress_prefixlength ${r.suppressPrefixLength}` : ""} (ipv${r.family}, proto ${r.protocol})`,
      )
      .join("\n");
    return [
      {
        name: "interfaces.txt",
        text: `tunnel: ${src.tunnel.name} (${src.tunnel.backend ?? "down"})\n${iface}\n`,
      },
      { name: "routes.txt", text: `${routes}\n` },
      { name: "rules.txt", text: `${rules}\n` },
    ];
  } catch (err) {
    return [
      { name: "netlink-error.txt", text: `cannot read links, routes and rules: ${(err as Error).message}\n` },
    ];
  } finally {
    rt?.close();
  }
}

/** The sections, redacted and bounded. `secrets` are exact values to cut (the token, the private key). */
export function debugInfo(src: DiagnosticsSource, secrets: readonly string[] = []): DebugSection[] {
  const st = src.status();
  const c = src.config;
  const sections: DebugSection[] = [
    { name: "daemon-status.json", text: `${JSON.stringify(st, null, 2)}\n` },
    { name: "daemon-resources.json", text: `${JSON.stringify(src.resources(), null, 2)}\n` },
    ...netlinkSections(src),
    {
      name: "dns.txt",
      text: [
        `mode: ${st.dnsMode ?? "(stub not running)"}`,
        `servers: ${(st.dnsServers ?? []).join(" ") || "-"}`,
        `upstreams: ${(st.dnsUpstreams ?? []).join(" ") || "-"}`,
        `dns_control setting: ${c.dnsControl ?? "auto"}`,
        "",
        "/etc/resolv.conf:",
        readText("/etc/resolv.conf"),
      ].join("\n"),
    },
    {
      name: "config.txt",
      text: [
        `file: ${c.configFile}`,
        c.configProblem ? `problem: ${c.configProblem}` : "",
        c.portal.configured ? `portal: ${c.portal.url}` : `portal: not configured (${c.portal.message})`,
        `log level: ${c.logLevel}; socket: ${c.socketPath}; group: ${c.group}; tun: ${c.tunName}`,
        "",
        readText(c.configFile),
      ].join("\n"),
    },
    {
      name: "versions.txt",
      text: [
        `firezoned ${VERSION}`,
        `kernel ${release()}`,
        `wireguard backend: ${src.tunnel.backend ?? "down"}`,
        `os-release:\n${readText("/etc/os-release", 4096)}`,
      ].join("\n"),
    },
  ];
  let total = 0;
  const out: DebugSection[] = [];
  for (const s of sections) {
    let text = redactSecrets(s.text, secrets);
    if (text.length > MAX_SECTION)
      text = `${text.slice(0, MAX_SECTION)}\n... (cut at ${MAX_SECTION} characters)\n`;
    // Bytes as they go on the wire: UTF-8, after JSON's escapes.
    const bytes = Buffer.byteLength(JSON.stringify(text));
    if (total + bytes > DEBUG_INFO_BYTES) break;
    total += bytes;
    out.push({ name: s.name, text });
  }
  return out;
}
