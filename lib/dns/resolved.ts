// `dns_control = systemd-resolved`: the tunnel's link gets the stub as its DNS server over D-Bus
// (org.freedesktop.resolve1.Manager: SetLinkDNS, SetLinkDomains, SetLinkDefaultRoute, RevertLink),
// the way NetworkManager and systemd-networkd configure links, not by running resolvectl.
// resolved forgets a link's settings when the link goes away, so a crashed daemon's TUN device
// disappearing (or being removed by the next start) also removes its DNS settings.
import { formatIp, type Logger, parseIp, silentLogger } from "../util/index.ts";
import { type ClientInterface, closeSystemBus, type MessageBus, openSystemBus } from "./_system_bus.ts";
import type { SystemDnsConfig } from "./resolv_conf.ts";

const DEST = "org.freedesktop.resolve1";
const PATH = "/org/freedesktop/resolve1";
const MANAGER = "org.freedesktop.resolve1.Manager";
const AF_INET = 2;
const AF_INET6 = 10;

/**
 * `all`: the link gets the routing domain "~." and the default route, so every name is asked of the
 * stub first (resource names never reach another link's resolver; upstream_dns applies to all).
 * `resources`: only the resource zones (and search domains) are routed to the stub.
 */
export type ResolvedRouting = "all" | "resources";

export interface ResolvedOptions {
  /** Index of the tunnel's link (tun-firezone). */
  ifindex: number;
  routing?: ResolvedRouting;
  /** A bus to use (tests); otherwise the system bus is opened on first use. */
  bus?: MessageBus;
  logger?: Logger;
  timeoutMs?: number;
}

export interface ResolvedConfig extends SystemDnsConfig {
  /** Zones of the DNS resources ("corp.example" for **.corp.example), for `resources` routing. */
  resourceZones?: readonly string[];
}

export class ResolvedControl {
  readonly ifindex: number;
  readonly routing: ResolvedRouting;
  readonly #log: Logger;
  readonly #timeoutMs: number;
  #bus: MessageBus | null;
  readonly #ownsBus: boolean;
  #manager: ClientInterface | null = null;

  constructor(options: ResolvedOptions) {
    this.ifindex = options.ifindex;
    this.routing = options.routing ?? "all";
    this.#bus = options.bus ?? null;
    this.#ownsBus = !options.bus;
    this.#log = options.logger ?? silentLogger;
    this.#timeoutMs = options.timeoutMs ?? 5000;
  }

  async #iface(): Promise<ClientInterface> {
    if (this.#manager) return this.#manager;
    this.#bus ??= openSystemBus();
    const obj = await this.#call(this.#bus.getProxyObject(DEST, PATH), "reaching systemd-resolved");
    this.#manager = obj.getInterface(MANAGER);
    return this.#manager;
  }

  /** Bounds every D-Bus call: a hung resolved must not hang the daemon. */
  async #call<T>(p: Promise<T>, what: string): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`systemd-resolved did not answer ${what} within ${this.#timeoutMs} ms`)),
        this.#timeoutMs,
      );
    });
    try {
      return await Promise.race([p, timeout]);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      throw new Error(
        `DNS: ${what} failed: ${msg}. Is systemd-resolved running? Set dns_control = resolv-conf to manage /etc/resolv.conf instead.`,
        { cause: e },
      );
    } finally {
      clearTimeout(timer);
    }
  }

  async apply(config: ResolvedConfig): Promise<void> {
    const m = await this.#iface();
    const servers = config.servers.map((s) => {
      const ip = parseIp(s);
      if (!ip) throw new Error(`DNS: "${s}" is not an IP address`);
      return [ip.family === 4 ? AF_INET : AF_INET6, Buffer.from(ip.bytes)];
    });
    const domains: Array<[string, boolean]> = config.searchDomains.map((d) => [d, false]);
    if (this.routing === "all") domains.push([".", true]);
    else
      for (const z of config.resourceZones ?? [])
        if (!config.searchDomains.includes(z)) domains.push([z, true]);
    await this.#call(m.SetLinkDNS!(this.ifindex, servers), "SetLinkDNS");
    await this.#call(m.SetLinkDomains!(this.ifindex, domains), "SetLinkDomains");
    await this.#call(m.SetLinkDefaultRoute!(this.ifindex, this.routing === "all"), "SetLinkDefaultRoute");
    this.#log.info("DNS: systemd-resolved sends names to the stub", {
      ifindex: this.ifindex,
      servers: config.servers.map((s) => formatIp(parseIp(s)!.bytes)).join(","),
      routing: this.routing,
    });
  }

  /** Drops everything set on the link; a link that is already gone counts as reverted. */
  async revert(): Promise<void> {
    try {
      const m = await this.#iface();
      await this.#call(m.RevertLink!(this.ifindex), "RevertLink");
    } catch (e) {
      this.#log.warn("DNS: could not revert the link in systemd-resolved", { error: e });
    } finally {
      this.close();
    }
  }

  close(): void {
    if (this.#bus && this.#ownsBus) closeSystemBus(this.#bus);
    if (this.#ownsBus) this.#bus = null;
    this.#manager = null;
  }
}

/**
 * Whether systemd-resolved runs now: its bus name has an owner. (Its runtime directory is no
 * answer: the unit keeps it after resolved stops, RuntimeDirectoryPreserve=yes.) A bus that cannot
 * be asked within `timeoutMs` gives null: the caller decides.
 */
export async function resolvedIsRunning(bus?: MessageBus, timeoutMs = 2000): Promise<boolean | null> {
  let opened: MessageBus | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    if (!bus) opened = openSystemBus();
    const b = bus ?? opened!;
    const ask = (async () => {
      const obj = await b.getProxyObject("org.freedesktop.DBus", "/org/freedesktop/DBus");
      const reply = await obj.getInterface("org.freedesktop.DBus").NameHasOwner!(DEST);
      return reply === true;
    })();
    const timeout = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), timeoutMs);
    });
    return await Promise.race([ask, timeout]).catch(() => null);
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
    if (opened) closeSystemBus(opened);
  }
}

/** The zone a pattern routes: its labels after the last wildcard ("**.a.corp.example" -> "a.corp.example"). */
export function zoneOfPattern(pattern: string): string {
  const labels = pattern.split(".");
  let i = labels.length;
  while (i > 0 && !/[*?]/.test(labels[i - 1]!)) i--;
  return labels.slice(i).join(".");
}
