// Brings the device to what the session says: its addresses, one WireGuard peer per gateway, the
// routes of exactly the resources the actor may reach, and the Internet Resource. Changes run one
// at a time, in order, and a burst of portal events coalesces into one pass.
import type { Logger } from "../util/index.ts";
import type { DnsWiring } from "./dns_wiring.ts";
import { internetPart } from "./internet_part.ts";
import type { PortalAddresses } from "./portal_addresses.ts";
import type { SessionChange } from "./session.ts";
import type { SessionInterface } from "./session_interface.ts";
import type { SessionResources } from "./session_resources.ts";
import type { InternetResourcePrefs } from "./settings.ts";
import type { TunnelControl } from "./tunnel_control.ts";
import { type AppliedPeers, peerChanges, planTunnel } from "./tunnel_plan.ts";

const RECONCILE_QUIET_MS = 25;
const RECONCILE_MAX_WAIT_MS = 1000;
const LARGE_BURST = 5000;

/** What of the session a tunnel pass reads besides its parts, read afresh at each step. */
export interface TunnelSession {
  /** Null while signed out: nothing is applied. */
  privateKey(): string | null;
  internet(): InternetResourcePrefs;
}

export interface TunnelReconcilerOptions {
  tunnel: TunnelControl;
  logger: Logger;
  dns: DnsWiring | null;
  session: TunnelSession;
  resources: SessionResources;
  /** The interface addresses from the portal; empty when it sent none this client accepts. */
  iface: SessionInterface;
  /** Every address the portal's host resolved to: routes are cut around them. */
  portalAddresses: PortalAddresses;
  /** The session's generation now; a pass scheduled for an older one does nothing. */
  generation: () => number;
  emit: (change: SessionChange) => void;
  /** A pass failed: the session shows it as its last error. */
  onFailure: (message: string) => void;
}

export class TunnelReconciler {
  /** The addresses the device was brought up with; null while it is down. */
  #tunnelAddresses: string[] | null = null;
  /** What the last tunnel plan narrowed or refused (already capped by the plan). */
  #routeWarnings: string[] = [];
  #loggedRouteWarnings: string[] = [];
  /** The peers as last applied, by public key, to send only what changed. */
  #appliedPeers: AppliedPeers = new Map();
  /** Tunnel changes run one at a time, in order; a burst of events coalesces into one reconcile. */
  #queue: Promise<void> = Promise.resolve();
  #reconcilePending = false;
  /** Events since the last collection after a burst (see schedule). */
  #burst = 0;
  #lastChangeAt = 0;
  /** How long the last tunnel pass took; the next one waits at least as long. */
  #lastPassMs = 0;
  /** Whether the Internet Resource's routes and rules are in force (the last reconcile put them in). */
  #internetActive = false;
  /** The next tunnel pass sets every peer's endpoint again (a reset: the uplink changed). */
  #refreshPaths = false;

  constructor(private readonly opts: TunnelReconcilerOptions) {}

  /** The device is up with the session's addresses. */
  get up(): boolean {
    return this.#tunnelAddresses !== null;
  }

  get internetActive(): boolean {
    return this.#internetActive;
  }

  get routeWarnings(): string[] {
    return this.#routeWarnings;
  }

  /** Settles when the work queued so far has run. */
  get settled(): Promise<void> {
    return this.#queue;
  }

  /** The next pass sets every peer's endpoint again (see apply). */
  refreshPaths(): void {
    this.#refreshPaths = true;
  }

  /** Signed out: what the passes remembered about the session goes (the device comes down through `down`). */
  forget(): void {
    this.#internetActive = false;
    this.#refreshPaths = false;
    this.#routeWarnings = [];
    this.#loggedRouteWarnings = [];
  }

  /** Queued after the passes before it: DNS first, then the device. */
  down(): Promise<void> {
    return this.enqueue(async () => {
      // DNS first: the system's resolver is put back before the stub's addresses disappear.
      await this.opts.dns?.stop();
      if (!this.#tunnelAddresses) return;
      this.#tunnelAddresses = null;
      await this.opts.tunnel.down();
    });
  }

  schedule(generation: number): void {
    this.#burst++;
    this.#lastChangeAt = performance.now();
    if (this.#reconcilePending) return;
    this.#reconcilePending = true;
    this.enqueue(async () => {
      // Each pass costs time in proportion to all resources, so one per event would be quadratic
      // in a burst (20,000 connection_details after an init). A pass starts once events have been
      // quiet for 25 ms, or after at most 1 s, and never sooner than the last pass took: then
      // passes take at most half the daemon's time however large the burst.
      const since = performance.now();
      const floor = since + this.#lastPassMs;
      for (;;) {
        const now = performance.now();
        const quiet = now - this.#lastChangeAt >= RECONCILE_QUIET_MS && now >= floor;
        if (quiet || now - since >= RECONCILE_MAX_WAIT_MS) break;
        await Bun.sleep(RECONCILE_QUIET_MS);
      }
      this.#reconcilePending = false;
      if (generation !== this.opts.generation()) return;
      const started = performance.now();
      await this.apply();
      this.#lastPassMs = performance.now() - started;
      // After the last pass of a large burst (an init of thousands of resources), collect at once:
      // the burst's frames, requests and plans are garbage, and the allocator returns freed pages
      // to the system only after a collection. About 50 ms, once per burst.
      if (!this.#reconcilePending && this.#burst >= LARGE_BURST) {
        this.#burst = 0;
        Bun.gc(true);
      }
    });
  }

  enqueue(work: () => Promise<void>): Promise<void> {
    const next = this.#queue.then(work).catch((err: unknown) => {
      const message = err instanceof Error ? err.message : String(err);
      this.opts.logger.error("tunnel update failed", { error: message });
      this.opts.onFailure(`tunnel update failed: ${message}`);
    });
    this.#queue = next;
    return next;
  }

  /**
   * Brings the device to what the session says: addresses, one peer per gateway, routes. One pass;
   * run it through `enqueue` or `schedule`, never alongside another.
   */
  async apply(): Promise<void> {
    const { session, iface, resources, portalAddresses } = this.opts;
    if (!session.privateKey()) return;
    const { tunnel, dns } = this.opts;
    if (iface.addresses.length === 0) {
      // The portal's addresses were refused: nothing of the tunnel may stay configured.
      if (this.#tunnelAddresses) {
        this.#tunnelAddresses = null;
        this.#appliedPeers.clear();
        this.#internetActive = false;
        await dns?.stop();
        await tunnel.down();
      }
      return;
    }
    if (this.#tunnelAddresses && this.#tunnelAddresses.join() !== iface.addresses.join()) {
      await dns?.stop();
      await tunnel.down();
      this.#tunnelAddresses = null;
    }
    if (!this.#tunnelAddresses) {
      await tunnel.up({ privateKey: session.privateKey()!, addresses: iface.addresses });
      this.#tunnelAddresses = [...iface.addresses];
      this.#appliedPeers.clear();
    }
    const internet = internetPart({
      prefs: session.internet(),
      internetId: resources.internetId(),
      details: resources.details(),
      portalAddresses: portalAddresses.list,
    });
    await dns?.sync();
    const plan = planTunnel(internet.others, {
      protect: portalAddresses.list.map((address) => ({ address, what: "the portal" })),
    });
    if (dns?.active) dns.addProxies(plan, resources.details());
    if (plan.allWarnings.join("\n") !== this.#loggedRouteWarnings.join("\n")) {
      const before = new Set(this.#loggedRouteWarnings);
      for (const w of plan.allWarnings.filter((x) => !before.has(x)))
        this.opts.logger.warn("route narrowed or refused", { warning: w });
      this.#loggedRouteWarnings = plan.allWarnings;
      this.#routeWarnings = plan.warnings;
      this.opts.emit("status");
    }
    internet.addPeer(plan.peers);
    // A reset: every peer's endpoint is set again, which makes both backends forget the source
    // address they had pinned for it (an address the host may no longer have) and send from the
    // current uplink; the session keys stay, so traffic flows at once and the gateway follows the
    // client to its new address on the first packet (docs/session.md says why not a forced handshake).
    const renew = this.#refreshPaths
      ? [...plan.peers.values()]
          .filter((p) => p.endpoint !== undefined && this.#appliedPeers.has(p.publicKey))
          .map((p) => ({ publicKey: p.publicKey, endpoint: p.endpoint, allowedIps: [], updateOnly: true }))
      : [];
    this.#refreshPaths = false;
    const { changes, next } = peerChanges(this.#appliedPeers, plan.peers);
    if (changes.length > 0 || renew.length > 0) {
      await tunnel.setPeers([...renew, ...changes], { replace: false });
      this.#appliedPeers = next;
    }
    await tunnel.setRoutes(plan.routes);
    const full = internet.plan;
    await tunnel.setFullTunnel(full.active ? { routes: full.routes, allowLan: full.allowLan } : null);
    if (this.#internetActive !== full.active) {
      this.#internetActive = full.active;
      this.opts.logger.info(full.active ? "Internet Resource in force" : "Internet Resource not in force", {
        allowLan: full.allowLan,
      });
      this.opts.emit("status");
    }
  }
}
