// How the portal session feeds its DNS session (lib/daemon/dns_session.ts): the stub starts on a
// fresh device, gets the `dns` resources as its table whenever the list changed, and follows the
// portal's upstream servers and search domains. Failures become a status warning, never a throw.
import { type DnsResourceEntry, type ProxyIps, parseDnsPattern } from "../dns/index.ts";
import type { ConnectionDetails } from "../portal/index.ts";
import type { Logger } from "../util/index.ts";
import { addDnsProxies } from "./dns_plan.ts";
import { DnsSession, type DnsSessionOptions, linkIndex } from "./dns_session.ts";
import type { SessionChange } from "./session.ts";
import type { SessionInterface } from "./session_interface.ts";
import type { SessionResources } from "./session_resources.ts";
import type { TunnelPlan } from "./tunnel_plan.ts";

export interface DnsWiringOptions {
  /** The daemon's DNS settings (PortalSessionOptions.dns). */
  settings: Pick<
    DnsSessionOptions,
    "setting" | "stateDir" | "resolvConfPath" | "listenPort" | "onUnfollowable"
  >;
  logger: Logger;
  /** The stub's hook: the session asks the portal for the way to a resource whose name was asked for. */
  requestConnection: (resourceId: string, name: string, ips: ProxyIps) => Promise<void>;
  resources: SessionResources;
  /** The portal's upstream servers and search domains. */
  iface: SessionInterface;
  /** The tunnel device's name: the stub's addresses go on it. */
  tunnelName: string;
  emit: (change: SessionChange) => void;
}

export class DnsWiring {
  /** The resources version the stub last got, to hand it the table only when it changed. */
  #resourcesVersion = -1;

  /** The stub and the system resolver's control. */
  readonly session: DnsSession;

  constructor(private readonly opts: DnsWiringOptions) {
    this.session = new DnsSession({
      ...opts.settings,
      logger: opts.logger.child("dns"),
      requestConnection: opts.requestConnection,
      onWarning: (text) => {
        if (text) opts.resources.setWarning("dns_system", text);
        else if (!opts.resources.clearWarning("dns_system")) return;
        opts.emit("status");
      },
    });
  }

  get active(): boolean {
    return this.session.active;
  }

  stop(): Promise<void> {
    return this.session.stop();
  }

  /** The `dns` resources as the stub's table; a pattern lib/dns refuses is skipped with a warning. */
  #entries(): DnsResourceEntry[] {
    const out: DnsResourceEntry[] = [];
    for (const r of this.opts.resources.values()) {
      if (r.type !== "dns") continue;
      try {
        out.push({ id: r.id, pattern: parseDnsPattern(r.address) });
      } catch (err) {
        this.opts.resources.warn(r.id, `Resource "${r.name}": ${(err as Error).message}`, { id: r.id });
      }
    }
    return out;
  }

  /** Starts DNS on a fresh device, hands the stub a changed resource table. Never throws. */
  async sync(): Promise<void> {
    const { resources, iface } = this.opts;
    const dns = this.session;
    if (!dns.active) {
      try {
        await dns.start({
          ifindex: linkIndex(this.opts.tunnelName),
          upstreamDns: iface.upstreamDns,
          searchDomains: iface.searchDomains,
          resources: this.#entries(),
        });
        this.#resourcesVersion = resources.version;
        resources.clearWarning("dns");
      } catch (err) {
        const text = `DNS resources do not resolve: ${(err as Error).message}`;
        if (resources.warning("dns") !== text) resources.warn("dns", text, {});
      }
      this.opts.emit("status");
      return;
    }
    if (this.#resourcesVersion !== resources.version) {
      dns.setResources(this.#entries());
      this.#resourcesVersion = resources.version;
    }
    await dns.reconfigure(iface.upstreamDns, iface.searchDomains);
  }

  /** The proxy addresses as allowed IPs of the gateways that serve them, and their ranges as routes. */
  addProxies(plan: TunnelPlan, details: Iterable<ConnectionDetails>): void {
    const dns = this.session;
    addDnsProxies(plan, details, (id) => dns.allowedIpsFor(id), dns.routes());
  }
}
