// Decides, from the kernel's link, address and route notifications (lib/netlink's monitor), when
// the way to the portal and the gateways has really changed, and says so once per burst. What
// counts is in docs/session.md ("Network changes, sleep and wake"); the tunnel's own interface and
// routes never count, or every reconcile would reset the session it belongs to.
import {
  type Address,
  IFF_LOWER_UP,
  type Link,
  type NetlinkEvent,
  NetlinkMonitor,
  type Route,
  Rtnetlink,
} from "../netlink/index.ts";
import type { Logger } from "../util/index.ts";

/** A burst is over once no relevant notification came for this long... */
export const NETWORK_QUIET_MS = 250;
/**
 * ...or this long, when the network it leaves looks whole again (a default route on a running link
 * with an address of its family): the steps of one reconfiguration come within milliseconds of
 * each other, and a step that comes later only costs a second reset.
 */
export const NETWORK_SETTLED_QUIET_MS = 50;
/** ...or at most this long after its first notification, so a flapping link still gets a reset. */
export const NETWORK_MAX_WAIT_MS = 1000;
/** At most this many reasons are named in one change (the log line stays short). */
const MAX_REASONS = 4;
/** IFA_F_TEMPORARY: an IPv6 privacy address, rotated by the host on a timer, not a new network. */
const IFA_F_TEMPORARY = 0x01;

/** Where the monitor's notifications come from; lib/netlink's NetlinkMonitor by default. */
export interface MonitorLike {
  start(): void;
  stop(): void;
}

export interface NetworkWatchOptions {
  /** The tunnel's interface: its links, addresses and routes are ignored. */
  tunnelName: string;
  /** Route protocol the tunnel marks its routes with (lib/wireguard ROUTE_PROTOCOL): ignored too. */
  tunnelProtocol: number;
  /** Called once per burst of relevant changes, with what changed (a few phrases). Must not throw. */
  onChange: (reasons: string[]) => void;
  /**
   * Called at the first relevant notification of a burst, before the debounce: for what is cheap,
   * harmless if repeated and better done at once (WireGuard's paths). Must not throw.
   */
  onChanging?: () => void;
  logger: Logger;
  quietMs?: number;
  settledQuietMs?: number;
  maxWaitMs?: number;
  /** The notification socket's receive buffer (lib/netlink's NetlinkMonitor); default its own. */
  receiveBufferBytes?: number;
  /** What the network looks like now (default: one rtnetlink dump of links, addresses, routes). */
  snapshot?: () => { links: Link[]; addresses: Address[]; routes: Route[] };
  createMonitor?: (handlers: {
    onEvents: (events: NetlinkEvent[]) => void;
    onLost: (reason: string) => void;
  }) => MonitorLike;
}

interface LinkState {
  name: string;
  /** Administratively up and with a carrier: it can carry packets. */
  running: boolean;
}

function dumpNetwork(): { links: Link[]; addresses: Address[]; routes: Route[] } {
  const rt = new Rtnetlink({ timeoutMs: 2000 });
  try {
    return { links: rt.links(), addresses: rt.addresses(), routes: rt.routes() };
  } finally {
    rt.close();
  }
}

const running = (l: Link) => l.up && (l.flags & IFF_LOWER_UP) !== 0;
const isLinkLocal6 = (a: Address) => a.family === 6 && /^fe[89ab][0-9a-f]:/i.test(a.cidr);
/** Where a route sits: `ip route replace` swaps the route in this slot for another. */
const routeSlot = (r: Route) => `${r.family} table ${r.table} metric ${r.metric}`;
const routeKey = (r: Route) => `${routeSlot(r)} via ${r.gateway ?? "-"} dev ${r.oif}`;

/** Watches the host's network for changes of the way out; start() once, stop() at shutdown. */
export class NetworkWatch {
  readonly #o: NetworkWatchOptions;
  readonly #links = new Map<number, LinkState>();
  readonly #addresses = new Set<string>();
  /** The default routes that count, by routeKey. */
  readonly #defaults = new Map<string, Route>();
  #monitor: MonitorLike | null = null;
  #reasons: string[] = [];
  #firstAt = 0;
  #lastAt = 0;
  #timer: ReturnType<typeof setTimeout> | null = null;

  constructor(options: NetworkWatchOptions) {
    this.#o = options;
  }

  /** Reads the network as it is, then follows its notifications. Throws if netlink is unusable. */
  start(): void {
    this.#learn();
    const handlers = {
      onEvents: (events: NetlinkEvent[]) => this.#take(events),
      onLost: (reason: string) => {
        // Notifications were dropped: what we knew may be stale. Start over and count it as a change.
        this.#o.logger.warn("network notifications were lost; re-reading the network", { reason });
        try {
          this.#learn();
        } catch (err) {
          this.#o.logger.warn("cannot re-read the network", { error: (err as Error).message });
        }
        this.#note("network notifications were lost", true);
      },
    };
    const buffer = this.#o.receiveBufferBytes;
    this.#monitor =
      this.#o.createMonitor?.(handlers) ??
      new NetlinkMonitor({ ...handlers, ...(buffer ? { receiveBufferBytes: buffer } : {}) });
    this.#monitor.start();
  }

  stop(): void {
    this.#monitor?.stop();
    this.#monitor = null;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#reasons = [];
  }

  #learn(): void {
    const now = (this.#o.snapshot ?? dumpNetwork)();
    this.#links.clear();
    this.#addresses.clear();
    this.#defaults.clear();
    for (const l of now.links) this.#links.set(l.index, { name: l.name, running: running(l) });
    for (const a of now.addresses) if (this.#addressCounts(a)) this.#addresses.add(`${a.index} ${a.cidr}`);
    for (const r of now.routes) if (this.#routeCounts(r)) this.#defaults.set(routeKey(r), r);
  }

  #ignoredIndex(index: number): boolean {
    const name = this.#links.get(index)?.name;
    return name === this.#o.tunnelName || name === "lo" || index === 1;
  }

  #addressCounts(a: Address): boolean {
    // (The same bit means "secondary" for IPv4, where it is an ordinary address.)
    const temporary = a.family === 6 && (a.flags & IFA_F_TEMPORARY) !== 0;
    return !this.#ignoredIndex(a.index) && !isLinkLocal6(a) && !temporary;
  }

  /** Default routes (any table but through the tunnel) are the way out; other routes are not watched. */
  #routeCounts(r: Route): boolean {
    if (!r.dst.endsWith("/0") || r.protocol === this.#o.tunnelProtocol) return false;
    if (r.oif !== 0 && this.#ignoredIndex(r.oif)) return false;
    // Local and broadcast tables hold the host's own addresses; unreachable/prohibit entries are policy.
    return r.table !== 255;
  }

  #take(events: NetlinkEvent[]): void {
    for (const e of events) {
      if (e.kind === "link") this.#onLink(e.link, e.removed);
      else if (e.kind === "address") this.#onAddress(e.address, e.removed);
      else this.#onRoute(e.route, e.removed, e.replaced ?? false);
    }
  }

  #onLink(link: Link, removed: boolean): void {
    const before = this.#links.get(link.index);
    if (link.name === this.#o.tunnelName || link.name === "lo") {
      if (removed) this.#links.delete(link.index);
      else this.#links.set(link.index, { name: link.name, running: running(link) });
      return;
    }
    if (removed) {
      this.#links.delete(link.index);
      this.#forgetDefaultsOn(link.index);
      if (before?.running) this.#note(`${before.name} went away`);
      return;
    }
    const now = running(link);
    this.#links.set(link.index, { name: link.name, running: now });
    // Set down, the link loses its IPv4 routes without an RTM_DELROUTE for them (the kernel flushes
    // them silently); a carrier lost leaves them in place.
    if (!link.up) this.#forgetDefaultsOn(link.index);
    // RTM_NEWLINK comes for any attribute change (MTU, statistics, a name): only up/down counts.
    if ((before?.running ?? false) !== now) this.#note(`${link.name} went ${now ? "up" : "down"}`);
  }

  #forgetDefaultsOn(index: number): void {
    for (const [key, r] of this.#defaults) if (r.oif === index) this.#defaults.delete(key);
  }

  #onAddress(a: Address, removed: boolean): void {
    if (!this.#addressCounts(a)) return;
    const key = `${a.index} ${a.cidr}`;
    const name = this.#links.get(a.index)?.name ?? `interface ${a.index}`;
    if (removed) {
      if (this.#addresses.delete(key)) this.#note(`address ${a.cidr} removed from ${name}`);
      // A renewed lease re-announces the address it already had: not a change.
    } else if (!this.#addresses.has(key)) {
      this.#addresses.add(key);
      this.#note(`address ${a.cidr} added on ${name}`);
    }
  }

  /** `replaced`: the route took the place of another (NLM_F_REPLACE), whose removal is not announced. */
  #onRoute(r: Route, removed: boolean, replaced: boolean): void {
    if (replaced && !removed && r.dst.endsWith("/0")) {
      // The route it replaced is gone: forget it, or the same route coming back later (a move
      // back to the first uplink) would look known and not count.
      const slot = `${routeSlot(r)} `;
      for (const key of this.#defaults.keys())
        if (key.startsWith(slot) && key !== routeKey(r)) this.#defaults.delete(key);
    }
    if (!this.#routeCounts(r)) return;
    const key = routeKey(r);
    const name = this.#links.get(r.oif)?.name ?? `interface ${r.oif}`;
    const what = `IPv${r.family} default route${r.gateway ? ` via ${r.gateway}` : ""} on ${name}`;
    if (removed) {
      if (this.#defaults.delete(key)) this.#note(`${what} removed`);
    } else if (!this.#defaults.has(key)) {
      this.#defaults.set(key, r);
      this.#note(`${what} added`);
    }
  }

  /** `first`: named first, however many reasons came before (a loss says more than any of them). */
  #note(reason: string, first = false): void {
    const now = performance.now();
    if (this.#reasons.length === 0) {
      this.#firstAt = now;
      // With the reset's own line, this shows how long the burst and its debounce took.
      this.#o.logger.debug("the network changed; waiting for the burst to end", { reason });
      try {
        this.#o.onChanging?.();
      } catch (err) {
        this.#o.logger.error("reacting to a network change failed", { error: err });
      }
    }
    if (first) {
      if (!this.#reasons.includes(reason)) this.#reasons.unshift(reason);
    } else if (this.#reasons.length < MAX_REASONS) this.#reasons.push(reason);
    else if (!this.#reasons.includes("and more")) this.#reasons.push("and more");
    this.#lastAt = now;
    // The short wait first; #fire decides whether the network looks whole or needs the long one.
    // (Deciding there, not here, keeps a burst of thousands of notifications cheap.)
    const quiet = this.#o.settledQuietMs ?? NETWORK_SETTLED_QUIET_MS;
    this.#arm(Math.min(now + quiet, this.#latest()) - now);
  }

  #latest(): number {
    return this.#firstAt + (this.#o.maxWaitMs ?? NETWORK_MAX_WAIT_MS);
  }

  #arm(ms: number): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, ms));
  }

  /** The way out looks whole: a default route on a running link with an address of its family. */
  #settled(): boolean {
    for (const r of this.#defaults.values()) {
      if (r.oif !== 0 && !this.#links.get(r.oif)?.running) continue;
      for (const key of this.#addresses) {
        const space = key.indexOf(" ");
        const onLink = r.oif === 0 || Number(key.slice(0, space)) === r.oif;
        if (onLink && key.includes(":", space) === (r.family === 6)) return true;
      }
    }
    return false;
  }

  #fire(): void {
    this.#timer = null;
    const wholeAt = Math.min(this.#lastAt + (this.#o.quietMs ?? NETWORK_QUIET_MS), this.#latest());
    if (performance.now() < wholeAt && !this.#settled()) {
      // Mid-reconfiguration (an address gone, no default route yet): the rest is probably coming.
      this.#arm(wholeAt - performance.now());
      return;
    }
    const reasons = this.#reasons;
    this.#reasons = [];
    if (reasons.length === 0) return;
    try {
      this.#o.onChange(reasons);
    } catch (err) {
      this.#o.logger.error("reacting to a network change failed", { error: err });
    }
  }
}
