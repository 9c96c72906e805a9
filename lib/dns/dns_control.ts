// The `dns_control` setting: which mechanism points the system's resolver at the stub, and the
// auto-detection used when the setting is absent.
import { lstat, readFile, readlink, stat } from "node:fs/promises";
import type { Logger } from "../util/index.ts";
import { RESOLV_CONF, ResolvConfControl, type SystemDnsConfig } from "./resolv_conf.ts";
import { type ResolvedConfig, ResolvedControl, type ResolvedRouting, resolvedIsRunning } from "./resolved.ts";

export const DNS_CONTROL_MODES = ["systemd-resolved", "resolv-conf", "off"] as const;
export type DnsControlMode = (typeof DNS_CONTROL_MODES)[number];

export function parseDnsControlMode(text: string): DnsControlMode {
  const mode = text.trim().toLowerCase();
  if ((DNS_CONTROL_MODES as readonly string[]).includes(mode)) return mode as DnsControlMode;
  throw new Error(
    `dns_control = "${text.slice(0, 40)}" is not one of: ${DNS_CONTROL_MODES.join(", ")} (or leave it unset to detect).`,
  );
}

export interface DetectPaths {
  resolvConf?: string;
  /** resolved's runtime directory; it exists once resolved has run since boot. */
  resolvedRuntime?: string;
  /** Whether resolved runs now (default: its bus name has an owner); null when it cannot be told. */
  resolvedRunning?: () => Promise<boolean | null>;
}

/**
 * systemd-resolved when it runs and the system uses it (/etc/resolv.conf links into
 * /run/systemd/resolve, or names its stub 127.0.0.53); otherwise resolv-conf. "Runs" is asked of
 * the bus only when the file says resolved: its runtime directory outlives a stopped resolved, and
 * a link to its stub then names a server that is not there (resolv-conf replaces that link).
 */
export async function detectDnsControl(paths: DetectPaths = {}): Promise<DnsControlMode> {
  const resolvConf = paths.resolvConf ?? RESOLV_CONF;
  const runtime = paths.resolvedRuntime ?? "/run/systemd/resolve";
  const ranSinceBoot = await stat(runtime).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!ranSinceBoot) return "resolv-conf";
  let usesResolved = false;
  const st = await lstat(resolvConf).catch(() => null);
  if (st?.isSymbolicLink()) {
    const target = await readlink(resolvConf).catch(() => "");
    usesResolved = target.includes("systemd/resolve");
  }
  if (!usesResolved) {
    const text = await readFile(resolvConf, "utf8").catch(() => "");
    usesResolved = /^\s*nameserver\s+127\.0\.0\.53\s*$/m.test(text);
  }
  if (!usesResolved) return "resolv-conf";
  // A bus that cannot be asked: trust the files, as before there was a bus to ask.
  const running = await (paths.resolvedRunning ?? (() => resolvedIsRunning()))();
  return running === false ? "resolv-conf" : "systemd-resolved";
}

/** The small surface the daemon calls, whichever mode: apply on connect, revert on sign-out/stop. */
export interface DnsControl {
  readonly mode: DnsControlMode;
  apply(config: ResolvedConfig): Promise<void>;
  revert(): Promise<void>;
}

export interface DnsControlOptions {
  mode: DnsControlMode;
  stateDir: string;
  /** The TUN link, for systemd-resolved. */
  ifindex?: number;
  routing?: ResolvedRouting;
  resolvConfPath?: string;
  logger?: Logger;
}

export function createDnsControl(options: DnsControlOptions): DnsControl {
  switch (options.mode) {
    case "off":
      return { mode: "off", apply: async () => {}, revert: async () => {} };
    case "resolv-conf": {
      const c = new ResolvConfControl({
        path: options.resolvConfPath,
        stateDir: options.stateDir,
        logger: options.logger,
      });
      return { mode: "resolv-conf", apply: (cfg: SystemDnsConfig) => c.apply(cfg), revert: () => c.revert() };
    }
    case "systemd-resolved": {
      if (options.ifindex === undefined)
        throw new Error("systemd-resolved DNS control needs the tunnel's ifindex");
      const c = new ResolvedControl({
        ifindex: options.ifindex,
        routing: options.routing,
        logger: options.logger,
      });
      return { mode: "systemd-resolved", apply: (cfg) => c.apply(cfg), revert: () => c.revert() };
    }
  }
}
