// DNS while signed in: the stub on the tunnel's sentinel addresses, the system's resolver pointed
// at it (`dns_control`), its upstreams chosen (the portal's `upstream_dns`, else the system's own
// servers as they were before we changed anything), the proxy addresses it hands out tracked per
// resource so they can be routed to the gateway that serves the resource, and everything put back
// on sign-out and stop (and, for /etc/resolv.conf, by the next start after a crash: `recoverDns`).
import {
  createDnsControl,
  type DetectPaths,
  type DnsControl,
  type DnsControlMode,
  type DnsResourceEntry,
  DnsStub,
  detectDnsControl,
  type ListenAddress,
  type ProxyIps,
  RESOLV_CONF,
  ResolvConfControl,
  type Upstream,
} from "../dns/index.ts";
import { formatIp, type Logger } from "../util/index.ts";
import { ADOPTION_WINDOW_MS, DnsFollower, type DnsFollowTrigger, MAX_ADOPTIONS } from "./dns_follow.ts";
import { addSentinels, DNS_SENTINELS, removeSentinels } from "./dns_link.ts";
import { readUpstreams, upstreamsFromPortal } from "./dns_upstreams.ts";

export { DNS_SENTINELS, linkIndex } from "./dns_link.ts";

/** The stub hands out proxy addresses from these; they are routed into the tunnel. */
export const DNS_PROXY_RANGES = ["100.96.0.0/11", "fd00:2021:1111:8000::/107"] as const;
/** resolved's list of the real upstream servers (never its own 127.0.0.53 stub). */
export const RESOLVED_UPSTREAMS_FILE = "/run/systemd/resolve/resolv.conf";

export interface DnsSessionOptions {
  /** The `dns_control` setting; absent means detect at each start. */
  setting: DnsControlMode | undefined;
  stateDir: string;
  logger: Logger;
  /**
   * Asks the portal for the way to a resource whose name was just asked for. The stub's answer
   * waits for it (bounded by the stub's hook timeout), so the application's first packet finds a
   * gateway ready.
   */
  requestConnection(resourceId: string, name: string, ips: ProxyIps): Promise<unknown>;
  /** A new proxy address was handed out for this resource: its allowed IPs changed. */
  onProxyIps?(resourceId: string): void;
  /** A problem with the system's DNS that status should show (null: it is gone). */
  onWarning?(text: string | null): void;
  /**
   * /etc/resolv.conf was replaced by rename and the unit's sandbox cannot follow: firezoned may
   * write only the file it found at start (run.ts restarts the daemon under systemd).
   */
  onUnfollowable?(): void;
  /** Test seams; production uses the defaults. */
  listenPort?: number;
  resolvConfPath?: string;
  resolvedUpstreamsFile?: string;
  detect?: DetectPaths;
}

export interface DnsStartConfig {
  /** The tunnel device's interface index: the sentinels go on it, resolved configures it. */
  ifindex: number;
  /** The portal's `upstream_dns`: IP addresses, port 53. Empty: the system's own servers. */
  upstreamDns: readonly string[];
  searchDomains: readonly string[];
  resources: readonly DnsResourceEntry[];
}

/** What `firezonectl status` shows. */
export interface DnsStatus {
  dnsMode: DnsControlMode;
  /** The addresses the system's resolver is pointed at (the stub's). */
  dnsServers: string[];
  /** Where the stub forwards names that are not resources. */
  dnsUpstreams: string[];
  /** The portal's search domains (empty: none). */
  dnsSearchDomains: string[];
}

/** At start, before anything else: put back a /etc/resolv.conf a crashed predecessor left replaced. */
export async function recoverDns(
  stateDir: string,
  logger: Logger,
  resolvConfPath?: string,
): Promise<boolean> {
  const restored = await new ResolvConfControl({ stateDir, path: resolvConfPath, logger }).recover();
  if (restored) logger.info("restored the resolv.conf a previous run left in place");
  return restored;
}

export class DnsSession {
  #stub: DnsStub | null = null;
  #control: DnsControl | null = null;
  #resolvConf: ResolvConfControl | null = null;
  #follower: DnsFollower | null = null;
  #warning: string | null = null;
  #mode: DnsControlMode | null = null;
  #ifindex = 0;
  #systemUpstreams: Upstream[] = [];
  #portalUpstreams: Upstream[] = [];
  #searchDomains: readonly string[] = [];
  #resourceCount = 0;
  /** Proxy addresses handed out, by resource id, as host routes (`/32`, `/128`). */
  readonly #proxies = new Map<string, Set<string>>();

  constructor(private readonly opts: DnsSessionOptions) {}

  get active(): boolean {
    return this.#stub !== null;
  }

  /**
   * Brings DNS up on the tunnel device. Throws (having put everything back) if the stub cannot
   * listen; a resolver that refuses the configuration is logged and DNS control left off, since
   * the tunnel itself still works for addresses.
   */
  async start(config: DnsStartConfig): Promise<void> {
    if (this.#stub) await this.stop();
    const log = this.opts.logger;
    const mode = this.opts.setting ?? (await detectDnsControl(this.opts.detect));
    this.#ifindex = config.ifindex;
    this.#portalUpstreams = upstreamsFromPortal(config.upstreamDns, log);
    this.#searchDomains = [...config.searchDomains];
    this.#resourceCount = config.resources.length;
    // The system's servers as they are before we change anything (resolv-conf reads them from
    // its backup during apply, which also covers a predecessor's leftover file).
    if (mode !== "resolv-conf")
      this.#systemUpstreams = await readUpstreams(this.#serversFile(mode), DNS_SENTINELS);
    addSentinels(config.ifindex);
    const port = this.opts.listenPort ?? 53;
    const listen: ListenAddress[] = DNS_SENTINELS.map((address) => ({ address, port }));
    const stub = new DnsStub({
      listen,
      resources: config.resources,
      onResourceQuery: (name, resourceId, ips) => this.#onResourceQuery(name, resourceId, ips),
      logger: log.child("stub"),
    });
    try {
      await stub.start();
    } catch (err) {
      this.#dropSentinels();
      throw new Error(
        `the DNS stub could not listen on ${DNS_SENTINELS.join(", ")}: ${(err as Error).message}`,
      );
    }
    this.#stub = stub;
    this.#mode = mode;
    // resolv-conf learns the system's servers from its backup during apply; until then the stub
    // forwards to what is known (nothing yet), and nobody asks it before apply anyway.
    this.#applyUpstreams(mode !== "resolv-conf");
    const resolvConf =
      mode === "resolv-conf"
        ? new ResolvConfControl({ stateDir: this.opts.stateDir, path: this.opts.resolvConfPath, logger: log })
        : null;
    const control: DnsControl = resolvConf
      ? { mode, apply: (cfg) => resolvConf.apply(cfg), revert: () => resolvConf.revert() }
      : createDnsControl({ mode, stateDir: this.opts.stateDir, ifindex: config.ifindex, logger: log });
    try {
      await control.apply(this.#systemConfig());
      this.#control = control;
    } catch (err) {
      log.error("could not point the system's resolver at the DNS stub; resource names will not resolve", {
        mode,
        error: (err as Error).message,
      });
      await control.revert().catch(() => {});
    }
    if (resolvConf) this.#systemUpstreams = resolvConf.originalUpstreams;
    this.#resolvConf = resolvConf;
    this.#applyUpstreams();
    this.#follower = new DnsFollower({
      path: this.#serversFile(mode),
      refresh: (trigger) => this.#refresh(trigger),
      logger: log,
    });
    this.#follower.start();
    log.info("DNS is up", {
      mode,
      servers: DNS_SENTINELS.join(" "),
      upstreams:
        this.#upstreams()
          .map((u) => u.address)
          .join(" ") || "(none)",
    });
  }

  setResources(resources: readonly DnsResourceEntry[]): void {
    this.#stub?.setResources(resources);
    this.#resourceCount = resources.length;
    const ids = new Set(resources.map((r) => r.id));
    // A deleted resource's proxy addresses stop routing; the names keep them (they are never
    // reused in a session) in case the resource comes back.
    for (const id of this.#proxies.keys()) if (!ids.has(id)) this.#proxies.delete(id);
  }

  /** `config_changed`: new upstreams and search domains. */
  async reconfigure(upstreamDns: readonly string[], searchDomains: readonly string[]): Promise<void> {
    this.#portalUpstreams = upstreamsFromPortal(upstreamDns, this.opts.logger);
    this.#applyUpstreams();
    const changed = searchDomains.join() !== this.#searchDomains.join();
    this.#searchDomains = [...searchDomains];
    if (changed && this.#control) await this.#control.apply(this.#systemConfig());
  }

  /**
   * The network changed (a session reset): the system's servers are read again, resolved's link
   * settings set again (they are gone if resolved restarted), and a /etc/resolv.conf another
   * program rewrote is adopted and pointed at the stub again. Never rejects.
   */
  refresh(): Promise<void> {
    return this.#follower?.kick("reset") ?? Promise.resolve();
  }

  /** The proxy addresses handed out for a resource, as allowed IPs for its gateway's peer. */
  allowedIpsFor(resourceId: string): string[] {
    return [...(this.#proxies.get(resourceId) ?? [])];
  }

  /** Routes into the tunnel while DNS is up and there are DNS resources: both proxy ranges. */
  routes(): string[] {
    return this.#stub && this.#resourceCount > 0 ? [...DNS_PROXY_RANGES] : [];
  }

  status(): DnsStatus | null {
    if (!this.#stub || !this.#mode) return null;
    return {
      dnsMode: this.#mode,
      dnsServers: this.#control ? [...DNS_SENTINELS] : [],
      dnsUpstreams: this.#upstreams().map((u) => u.address),
      dnsSearchDomains: [...this.#searchDomains],
    };
  }

  /** Sign-out and stop: the system's resolver put back, the stub closed. Never throws. */
  async stop(): Promise<void> {
    this.#follower?.stop();
    this.#follower = null;
    this.#setWarning(null);
    const control = this.#control;
    this.#control = null;
    this.#resolvConf = null;
    if (control) {
      await control.revert().catch((err: unknown) =>
        this.opts.logger.error("could not restore the system's DNS configuration", {
          error: (err as Error).message,
        }),
      );
    }
    this.#stub?.stop();
    this.#stub = null;
    this.#mode = null;
    this.#dropSentinels();
    this.#proxies.clear();
  }

  /** Where the system's own servers are listed: resolved's file, or the resolv.conf (ours or not). */
  #serversFile(mode: DnsControlMode): string {
    return mode === "systemd-resolved"
      ? (this.opts.resolvedUpstreamsFile ?? RESOLVED_UPSTREAMS_FILE)
      : (this.opts.resolvConfPath ?? RESOLV_CONF);
  }

  async #refresh(trigger: DnsFollowTrigger): Promise<void> {
    const mode = this.#mode;
    if (!this.#stub || !mode) return;
    const before = this.#upstreams()
      .map((u) => u.address)
      .join(" ");
    if (mode !== "resolv-conf") {
      this.#systemUpstreams = await readUpstreams(this.#serversFile(mode), DNS_SENTINELS);
      if (trigger === "reset") await this.#control?.apply(this.#systemConfig());
    } else if (this.#resolvConf && this.#control) {
      await this.#reassertResolvConf(this.#resolvConf);
    }
    const after = this.#upstreams()
      .map((u) => u.address)
      .join(" ");
    if (after !== before) {
      this.opts.logger.info("DNS: the system's servers changed", { trigger, upstreams: after || "(none)" });
      this.#applyUpstreams();
    }
  }

  async #reassertResolvConf(resolvConf: ResolvConfControl): Promise<void> {
    const follower = this.#follower;
    const outcome = await resolvConf.reassert(this.#systemConfig(), () => follower?.mayAdopt() ?? true);
    if (outcome === "adopted") {
      follower?.adopted();
      this.#systemUpstreams = resolvConf.originalUpstreams;
      this.#setWarning(null);
    } else if (outcome === "left") {
      this.#setWarning(
        `Another program keeps rewriting ${resolvConf.path} (${MAX_ADOPTIONS_TEXT}); firezoned leaves it alone until the next network change, so resource names may not resolve. Configure that program to leave the file alone, or use systemd-resolved (docs/dns.md).`,
      );
    } else if (outcome === "stale") {
      this.#setWarning(
        `${resolvConf.path} was replaced by another program (a DHCP client?) after firezoned started, and the unit's sandbox lets firezoned write only the file it found then: resource names do not resolve. Run: sudo systemctl restart firezoned (docs/dns.md, "When the network changes").`,
      );
      try {
        this.opts.onUnfollowable?.();
      } catch (err) {
        this.opts.logger.error("reacting to a replaced resolv.conf failed", {
          error: (err as Error).message,
        });
      }
    } else if (outcome === "intact") this.#setWarning(null);
  }

  #setWarning(text: string | null): void {
    if (text === this.#warning) return;
    this.#warning = text;
    if (text) this.opts.logger.error(text);
    try {
      this.opts.onWarning?.(text);
    } catch (err) {
      this.opts.logger.error("reporting a DNS warning failed", { error: (err as Error).message });
    }
  }

  #dropSentinels(): void {
    if (this.#ifindex) removeSentinels(this.#ifindex);
    this.#ifindex = 0;
  }

  #onResourceQuery(name: string, resourceId: string, ips: ProxyIps): Promise<unknown> {
    let set = this.#proxies.get(resourceId);
    if (!set) {
      set = new Set();
      this.#proxies.set(resourceId, set);
    }
    const before = set.size;
    set.add(`${formatIp(ips.v4)}/32`);
    set.add(`${formatIp(ips.v6)}/128`);
    if (set.size !== before) {
      try {
        this.opts.onProxyIps?.(resourceId);
      } catch (err) {
        this.opts.logger.error("routing a proxy address failed", { error: (err as Error).message });
      }
    }
    return this.opts.requestConnection(resourceId, name, ips);
  }

  #upstreams(): Upstream[] {
    return this.#portalUpstreams.length > 0 ? this.#portalUpstreams : this.#systemUpstreams;
  }

  #applyUpstreams(warn = true): void {
    const list = this.#upstreams();
    if (warn && this.#stub && list.length === 0)
      this.opts.logger.warn(
        "no upstream DNS servers (the portal sets none and the system had none): names that are not resources will not resolve",
      );
    this.#stub?.setUpstreams(list);
  }

  #systemConfig() {
    return {
      servers: [...DNS_SENTINELS],
      searchDomains: this.#searchDomains,
      resourceZones: [] as string[],
    };
  }
}

const MAX_ADOPTIONS_TEXT = `more than ${MAX_ADOPTIONS} times in ${ADOPTION_WINDOW_MS / 1000} s`;
