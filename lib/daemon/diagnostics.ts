// The checks of `firezonectl doctor` that need the daemon's view (its namespace, its configuration,
// its session): TUN, WireGuard, the configuration, the portal step by step, the token, clock skew,
// route conflicts, rp_filter and DNS control. Each check says what it saw and, when it fails, the
// exact fix. See docs/troubleshooting.md.
import { closeSync, constants, existsSync, openSync, readFileSync, statSync } from "node:fs";
import type { Check, IpcResource, Status } from "../ipc/index.ts";
import { type Link, listNetconf, NETCONF_ALL, Rtnetlink } from "../netlink/index.ts";
import { displayText, formatCidr, networkOf, parseCidr } from "../util/index.ts";
import type { DaemonConfig } from "./config.ts";
import { DNS_PROXY_RANGES, DNS_SENTINELS } from "./dns_session.ts";
import { probePortal } from "./portal_probe.ts";

/** What the checks read from the running daemon. */
export interface DiagnosticsSource {
  config: DaemonConfig;
  status: () => Status;
  resources: () => readonly IpcResource[];
  tunnel: { name: string; table: number; backend: "kernel" | "userspace" | null };
  /** Paths, replaceable in tests. */
  paths?: { tun?: string; sys?: string; proc?: string; resolvConf?: string };
  now?: () => number;
}

/** More than this between the portal's clock and ours fails the check (tokens and TLS need a right clock). */
export const MAX_CLOCK_SKEW_MS = 120_000;

const TUNNEL_RANGES = ["100.64.0.0/11", "fd00:2021:1111::/107", ...DNS_PROXY_RANGES];
const show = (s: string) => displayText(s, 300);

function pass(id: string, title: string, detail: string): Check {
  return { id, title, status: "pass", detail };
}
function fail(id: string, title: string, detail: string, fix: string): Check {
  return { id, title, status: "fail", detail, fix };
}

export function checkTun(src: DiagnosticsSource): Check {
  const title = "TUN device /dev/net/tun";
  const path = src.paths?.tun ?? "/dev/net/tun";
  const sys = src.paths?.sys ?? "/sys";
  if (src.tunnel.backend === "userspace" || src.tunnel.backend === "kernel")
    return pass("tun", title, `the tunnel ${src.tunnel.name} is up`);
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(path);
  } catch {
    const loaded = existsSync(`${sys}/module/tun`) || existsSync(`${sys}/devices/virtual/misc/tun`);
    return loaded
      ? fail(
          "tun",
          title,
          `${path} does not exist in firezoned's view, though the kernel has TUN (in a container: start it with --device /dev/net/tun)`,
          "sudo mkdir -p /dev/net && sudo mknod -m 0666 /dev/net/tun c 10 200 && sudo systemctl restart firezoned",
        )
      : fail("tun", title, `${path} does not exist and the tun module is not loaded`, "sudo modprobe tun");
  }
  if (!st.isCharacterDevice())
    return fail(
      "tun",
      title,
      `${path} is not a character device`,
      `sudo rm ${path} && sudo mknod -m 0666 ${path} c 10 200`,
    );
  try {
    closeSync(openSync(path, constants.O_RDWR | constants.O_NONBLOCK));
  } catch (err) {
    return fail(
      "tun",
      title,
      `firezoned cannot open ${path}: ${show((err as Error).message)} (a device cgroup or a missing CAP_NET_ADMIN)`,
      "sudo systemctl cat firezoned   # DeviceAllow=/dev/net/tun rw and CAP_NET_ADMIN must be there; reinstall with install.sh",
    );
  }
  return pass("tun", title, `${path} opens`);
}

function onPath(program: string): string | null {
  for (const dir of (
    process.env.PATH || "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
  ).split(":")) {
    if (dir && existsSync(`${dir}/${program}`)) return `${dir}/${program}`;
  }
  return null;
}

export function checkWireguard(src: DiagnosticsSource): Check {
  const title = "WireGuard (kernel module or wireguard-go)";
  const sys = src.paths?.sys ?? "/sys";
  if (src.tunnel.backend)
    return pass("wireguard", title, `the tunnel runs on ${src.tunnel.backend} WireGuard`);
  if (existsSync(`${sys}/module/wireguard`)) return pass("wireguard", title, "kernel WireGuard is loaded");
  const go = onPath("wireguard-go");
  // An unloaded module is loaded by the kernel on demand when the tunnel starts, if the kernel has one.
  if (go)
    return pass(
      "wireguard",
      title,
      `kernel WireGuard is not loaded yet; ${go} is there if the kernel has none`,
    );
  return fail(
    "wireguard",
    title,
    "neither the kernel's WireGuard module nor wireguard-go is available",
    "sudo modprobe wireguard || sudo apt install wireguard-go",
  );
}

export function checkConfig(src: DiagnosticsSource): Check {
  const title = "Configuration (portal URL)";
  const c = src.config;
  if (c.configProblem)
    return fail(
      "config",
      title,
      show(c.configProblem),
      `sudoedit ${c.configFile}   # fix the line named above (keys: docs/configuration.md), then: sudo systemctl restart firezoned`,
    );
  if (!c.portal.configured)
    return fail(
      "config",
      title,
      show(c.portal.message),
      `sudo firezonectl settings set portal_url wss://portal.example.com   # applies at once; it is portal_url in ${c.configFile}`,
    );
  const plain = /^(ws|http):/.test(c.portal.url);
  return pass(
    "config",
    title,
    `portal ${show(c.portal.url)}${plain ? " (plaintext, allowed by allow_insecure_portal: labs only)" : ""}${c.portal.ca ? " with ca_file" : ""}`,
  );
}

export function checkToken(src: DiagnosticsSource): Check {
  const title = "Portal accepts the token";
  const st = src.status();
  if (st.state === "connected") return pass("portal_token", title, `signed in as ${show(st.actor ?? "?")}`);
  if (st.state === "not_configured")
    return { id: "portal_token", title, status: "skip", detail: "no portal is configured" };
  const why = st.lastError ? `: ${show(st.lastError)}` : "";
  if (st.state === "signed_out")
    return fail(
      "portal_token",
      title,
      `not signed in${why}`,
      st.mode === "service"
        ? "sudo install -m 0600 /dev/stdin /etc/firezoned/token < NEW_TOKEN_FILE && sudo systemctl restart firezoned"
        : "sign in from the Firezone tray, or: firezonectl sign-in --token-stdin < TOKEN_FILE",
    );
  return fail(
    "portal_token",
    title,
    `${st.state}${why}`,
    "wait a moment and run firezonectl doctor again; firezonectl logs --since 10m shows why",
  );
}

export function checkClock(portalDate: number | null, now: number): Check {
  const title = "Clock matches the portal";
  if (portalDate === null)
    return {
      id: "clock",
      title,
      status: "skip",
      detail: "the portal's clock is unknown (it did not answer)",
    };
  const skew = now - portalDate;
  // The Date header has one-second resolution; a round trip adds a little more.
  if (Math.abs(skew) <= MAX_CLOCK_SKEW_MS)
    return pass("clock", title, `within ${Math.max(1, Math.round(Math.abs(skew) / 1000))} s of the portal`);
  return fail(
    "clock",
    title,
    `this host's clock is ${Math.round(Math.abs(skew) / 1000)} s ${skew > 0 ? "ahead of" : "behind"} the portal's`,
    "sudo timedatectl set-ntp true",
  );
}

function overlaps(a: string, b: string): boolean {
  try {
    const x = parseCidr(a);
    const y = parseCidr(b);
    if (x.family !== y.family) return false;
    const p = Math.min(x.prefix, y.prefix);
    return formatCidr(networkOf({ ...x, prefix: p })) === formatCidr(networkOf({ ...y, prefix: p }));
  } catch {
    return false;
  }
}

/** Another interface in the tunnel's ranges, or a rule before the tunnel's that sends a resource elsewhere. */
export function checkRoutes(src: DiagnosticsSource, rt: Rtnetlink): Check {
  const title = "Route conflicts";
  const links = new Map<number, Link>(rt.links().map((l) => [l.index, l]));
  const ours = (index: number) => links.get(index)?.name === src.tunnel.name;
  const problems: string[] = [];
  for (const a of rt.addresses()) {
    if (ours(a.index)) continue;
    const hit = TUNNEL_RANGES.find((r) => overlaps(r, a.cidr));
    if (hit) problems.push(`${links.get(a.index)?.name ?? a.index} has address ${a.cidr} inside ${hit}`);
  }
  // RTN_UNICAST routes through other interfaces into the tunnel's ranges (local and broadcast ones are the kernel's).
  const routes = rt.routes();
  for (const r of routes) {
    if (r.type !== 1 || r.oif === 0 || ours(r.oif) || r.table === src.tunnel.table) continue;
    if (r.dst === "0.0.0.0/0" || r.dst === "::/0") continue;
    const hit = TUNNEL_RANGES.find((t) => overlaps(t, r.dst));
    if (hit)
      problems.push(
        `${r.dst} in table ${r.table} goes through ${links.get(r.oif)?.name ?? r.oif}, inside ${hit}`,
      );
  }
  // Rules ahead of the tunnel's send a resource elsewhere when their table routes it.
  const ourRoutes = routes.filter(
    (r) => r.table === src.tunnel.table && r.dst !== "0.0.0.0/0" && r.dst !== "::/0",
  );
  const ourRule = rt.rules().find((r) => r.table === src.tunnel.table);
  if (ourRule) {
    for (const rule of rt.rules()) {
      if (rule.priority === 0 || rule.priority >= ourRule.priority || rule.action !== 1) continue;
      if (rule.table === src.tunnel.table || rule.table === 255) continue;
      for (const r of routes) {
        if (r.table !== rule.table || r.type !== 1) continue;
        const shadowed = ourRoutes.find((o) => overlaps(o.dst, r.dst));
        if (shadowed)
          problems.push(
            `rule ${rule.priority} (lookup ${rule.table}) comes before the tunnel's and routes ${r.dst} via ${links.get(r.oif)?.name ?? r.oif}, over the resource route ${shadowed.dst}`,
          );
      }
    }
  }
  if (problems.length === 0)
    return pass(
      "routes",
      title,
      ourRule
        ? `no other route or rule takes the tunnel's traffic (table ${src.tunnel.table})`
        : "no other interface uses the tunnel's address ranges",
    );
  return fail(
    "routes",
    title,
    problems.slice(0, 5).join("; ") + (problems.length > 5 ? `; and ${problems.length - 5} more` : ""),
    "ip route show table all; ip rule   # stop or reconfigure the other VPN using these ranges (docs/troubleshooting.md)",
  );
}

/** rp_filter of `all` and of the tunnel: over rtnetlink (the unit's ProcSubset=pid hides /proc/sys), else /proc. */
function rpFilterValues(
  src: DiagnosticsSource,
  rt: Rtnetlink | null,
): { all: number | null; dev: number | null } {
  if (rt) {
    try {
      const entries = listNetconf(rt.conn);
      const index = rt.link(src.tunnel.name)?.index;
      const all = entries.find((e) => e.ifindex === NETCONF_ALL)?.rpFilter ?? null;
      const dev = index === undefined ? null : (entries.find((e) => e.ifindex === index)?.rpFilter ?? null);
      if (all !== null) return { all, dev };
    } catch {
      // Fall back to /proc below.
    }
  }
  const proc = src.paths?.proc ?? "/proc";
  const read = (dev: string) => {
    try {
      return Number(readFileSync(`${proc}/sys/net/ipv4/conf/${dev}/rp_filter`, "utf8").trim());
    } catch {
      return null;
    }
  };
  return { all: read("all"), dev: read(src.tunnel.name) };
}

export function checkRpFilter(src: DiagnosticsSource, rt: Rtnetlink | null = null): Check {
  const title = "Reverse-path filter (rp_filter)";
  const { all, dev } = rpFilterValues(src, rt);
  if (all === null)
    return {
      id: "rp_filter",
      title,
      status: "skip",
      detail: "the kernel did not report net.ipv4.conf.all.rp_filter",
    };
  // The kernel uses the larger of `all` and the device's value.
  const effective = Math.max(all, dev ?? 0);
  const name = ["off", "strict", "loose"][effective] ?? String(effective);
  if (effective > 2)
    return fail(
      "rp_filter",
      title,
      `rp_filter is ${effective}, not a value the kernel knows`,
      "sudo sysctl -w net.ipv4.conf.all.rp_filter=2",
    );
  return pass(
    "rp_filter",
    title,
    `${name} (all=${all}${dev === null ? "" : `, ${src.tunnel.name}=${dev}`}); the tunnel's routes pass a strict filter (docs/tunnel.md)`,
  );
}

export function checkDns(src: DiagnosticsSource): Check {
  const title = "DNS control";
  const st = src.status();
  if (st.state !== "connected")
    return { id: "dns", title, status: "skip", detail: "the DNS stub runs while the tunnel is connected" };
  const warning = (st.warnings ?? []).find((w) => /\bDNS\b|resolv/i.test(w));
  if (!st.dnsMode)
    return fail(
      "dns",
      title,
      `the DNS stub is not running${warning ? `: ${show(warning)}` : ""}`,
      "firezonectl logs --since 10m   # shows why; then: sudo systemctl restart firezoned",
    );
  if (warning)
    return fail(
      "dns",
      title,
      show(warning),
      "sudo systemctl restart firezoned   # see docs/dns.md for dns_control",
    );
  if (st.dnsMode === "resolv-conf") {
    let text = "";
    try {
      text = readFileSync(src.paths?.resolvConf ?? "/etc/resolv.conf", "utf8");
    } catch {}
    if (!DNS_SENTINELS.some((s) => text.includes(`nameserver ${s}`)))
      return fail(
        "dns",
        title,
        "/etc/resolv.conf no longer points at the DNS stub (another program rewrote it)",
        "sudo systemctl restart firezoned   # or set dns_control = systemd-resolved in /etc/firezoned/firezoned.conf",
      );
  }
  const servers = st.dnsServers?.length ? st.dnsServers.join(" ") : "not applied";
  return pass(
    "dns",
    title,
    st.dnsMode === "off"
      ? "dns_control = off: the system's resolver is left alone; DNS resources resolve only through the stub"
      : `${st.dnsMode}: ${servers}`,
  );
}

/** Every daemon-side check, in the order `doctor` prints them. Never throws. */
export async function runDiagnostics(src: DiagnosticsSource): Promise<Check[]> {
  const guarded = (id: string, title: string, fn: () => Check): Check => {
    try {
      return fn();
    } catch (err) {
      return { id, title, status: "skip", detail: `could not check: ${show((err as Error).message)}` };
    }
  };
  const checks: Check[] = [
    guarded("config", "Configuration (portal URL)", () => checkConfig(src)),
    guarded("tun", "TUN device /dev/net/tun", () => checkTun(src)),
    guarded("wireguard", "WireGuard (kernel module or wireguard-go)", () => checkWireguard(src)),
  ];
  let portalDate: number | null = null;
  if (src.config.portal.configured) {
    const probe = await probePortal(src.config.portal);
    checks.push(...probe.checks);
    portalDate = probe.portalDate;
  }
  checks.push(guarded("portal_token", "Portal accepts the token", () => checkToken(src)));
  checks.push(checkClock(portalDate, (src.now ?? Date.now)()));
  let rt: Rtnetlink | null = null;
  try {
    rt = new Rtnetlink();
    const r = rt;
    checks.push(guarded("routes", "Route conflicts", () => checkRoutes(src, r)));
  } catch (err) {
    checks.push({
      id: "routes",
      title: "Route conflicts",
      status: "skip",
      detail: show((err as Error).message),
    });
  }
  const conn = rt;
  checks.push(guarded("rp_filter", "Reverse-path filter (rp_filter)", () => checkRpFilter(src, conn)));
  rt?.close();
  checks.push(guarded("dns", "DNS control", () => checkDns(src)));
  return checks;
}
