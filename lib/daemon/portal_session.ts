// The portal-backed session: signed_out -> connecting -> connected <-> reconnecting, or for good
// not_configured when the daemon has no usable portal URL. It turns the
// portal's events into the tunnel's configuration: interface addresses on `init`, one WireGuard peer
// per gateway, and routes for exactly the resources the actor may reach. This file is the state
// machine; its parts (session_parts.ts connects them) are the resource list (session_resources.ts),
// the assigned interface (session_interface.ts), the tunnel passes (tunnel_reconciler.ts), the
// portal's own addresses (portal_addresses.ts), DNS (dns_wiring.ts) and path requests
// (connection_requests.ts).
import { type Init, type InterfaceEntry, type PortalClientEvents, portalWebUrl } from "../portal/index.ts";
import { FzError } from "../types/index.ts";
import { displayText, generatePrivateKey } from "../util/index.ts";
import type { PortalConfig } from "./config.ts";
import type { ConnectionRequests } from "./connection_requests.ts";
import type { DnsSession } from "./dns_session.ts";
import type { ResetCause, ResetRecord } from "./network_reset.ts";
import { openPortal } from "./open_portal.ts";
import type { PortalAddresses } from "./portal_addresses.ts";
import type { PortalLike, PortalSessionOptions } from "./portal_session_options.ts";
import type { ResourceList } from "./resource_pages.ts";
import type { Session, SessionChange, SessionSnapshot, SignInHints } from "./session.ts";
import type { SessionInterface } from "./session_interface.ts";
import { sessionParts } from "./session_parts.ts";
import type { SessionResources } from "./session_resources.ts";
import { DEFAULT_INTERNET_RESOURCE, type InternetResourcePrefs } from "./settings.ts";
import type { TunnelReconciler } from "./tunnel_reconciler.ts";

type State = SessionSnapshot["state"];

/** At most this many warnings are shown in status; the rest are counted (all are in the log). */
const MAX_SHOWN_WARNINGS = 20;

export class PortalSession implements Session {
  #state: State;
  #portal: PortalLike | null = null;
  /** The signed-in token, kept only so a new portal URL (settings set, SIGHUP) can reconnect. */
  #token: string | null = null;
  #privateKey: string | null = null;
  #account: string | undefined;
  #actor: string | undefined;
  /** The tunnel addresses, upstream DNS servers and search domains the portal assigned. */
  readonly #iface: SessionInterface;
  /** An init arrived on this connection: later config_changed and resource events apply to it. */
  #joined = false;
  #lastError: string | undefined;
  /** The resources, their connection details and the warnings about them. */
  readonly #resources: SessionResources;
  readonly #listeners = new Set<(change: SessionChange) => void>();
  /** Every address the portal's host resolved to in this session: routes are cut around them. */
  readonly #portalAddresses: PortalAddresses;
  /** The device, its peers and routes, brought to what the session says one pass at a time. */
  readonly #reconciler: TunnelReconciler;
  readonly #requests: ConnectionRequests;
  /** Bumped by every sign-in and sign-out, so work begun for an older session does nothing. */
  #generation = 0;
  #internet: InternetResourcePrefs;
  /** The last reset; its cause stays in status as `reconnectCause` until the portal's next init. */
  #lastReset: ResetRecord | undefined;
  #resetPending = false;

  /** The DNS stub and resolver control, while configured (`opts.dns`). */
  readonly #dns: DnsSession | null;

  constructor(private readonly opts: PortalSessionOptions) {
    this.#state = opts.portal.configured ? "signed_out" : "not_configured";
    if (!opts.portal.configured) this.#lastError = opts.portal.message;
    this.#internet = opts.internetResource ?? DEFAULT_INTERNET_RESOURCE;
    const parts = sessionParts(opts, {
      emit: (change) => this.#emit(change),
      privateKey: () => this.#privateKey,
      internet: () => this.#internet,
      generation: () => this.#generation,
      portal: () => this.#portal,
      onFailure: (message) => this.noteError(message),
    });
    this.#resources = parts.resources;
    this.#iface = parts.iface;
    this.#portalAddresses = parts.portalAddresses;
    this.#dns = parts.dns;
    this.#reconciler = parts.reconciler;
    this.#requests = parts.requests;
  }

  snapshot(): SessionSnapshot {
    const portal = this.opts.portal;
    return {
      state: this.#state,
      ...(portal.configured ? { portalUrl: portalWebUrl(portal.url) } : {}),
      ...(this.#account ? { account: this.#account } : {}),
      ...(this.#actor ? { actor: this.#actor } : {}),
      ...(this.#iface.addresses.length
        ? { addresses: [...this.#iface.addresses], interfaceName: this.opts.tunnel.name }
        : {}),
      resourceCount: this.#resources.size,
      ...(this.#lastError ? { lastError: this.#lastError } : {}),
      ...(this.#resources.warningCount || this.#reconciler.routeWarnings.length
        ? { warnings: this.warnings() }
        : {}),
      internetResource: this.#internetStatus(),
      ...(this.#lastReset ? { lastReset: { ...this.#lastReset } } : {}),
      ...(this.#resetPending && this.#lastReset ? { reconnectCause: this.#lastReset.cause } : {}),
      ...(this.#dns?.status() ?? {}),
    };
  }

  async setInternetResource(prefs: InternetResourcePrefs): Promise<void> {
    this.#internet = { ...prefs };
    this.#emit("status");
    if (!this.#privateKey) return;
    // Asked for only while switched on, so the gateway opens nothing the user did not ask for.
    const id = this.#resources.internetId();
    if (prefs.enabled && id && !this.#resources.hasDetails(id)) this.#requests.request(id, this.#generation);
    this.#scheduleReconcile(this.#generation);
    // The answer reflects the routes as they are (bounded: a stuck tunnel must not hold the caller).
    await Promise.race([this.#reconciler.settled, Bun.sleep(5000)]);
  }

  #internetStatus(): NonNullable<SessionSnapshot["internetResource"]> {
    return {
      ...this.#internet,
      available: this.#resources.internetId() !== undefined,
      active: this.#reconciler.internetActive,
    };
  }

  /** The warnings as status shows them: the first few, then how many more the log holds. */
  warnings(): string[] {
    const all = [...this.#resources.warningTexts(), ...this.#reconciler.routeWarnings];
    if (all.length <= MAX_SHOWN_WARNINGS) return all;
    return [
      ...all.slice(0, MAX_SHOWN_WARNINGS),
      `... and ${all.length - MAX_SHOWN_WARNINGS} more warnings (see the daemon's log)`,
    ];
  }

  /** The upstream DNS servers the portal gave with the interface (for the DNS work to consume). */
  upstreamDns(): string[] {
    return [...this.#iface.upstreamDns];
  }

  resources(): ResourceList {
    return this.#resources.list();
  }

  onChange(listener: (change: SessionChange) => void): void {
    this.#listeners.add(listener);
  }

  async signIn(token: string, _hints: SignInHints): Promise<void> {
    const config = this.opts.portal;
    if (!config.configured) throw new FzError("not_configured", config.message);
    if (this.#portal) await this.#teardown();
    this.#token = token;
    const generation = ++this.#generation;
    this.#privateKey = generatePrivateKey();
    this.#lastError = undefined;
    this.#setState("connecting");
    const { portal, firstAnswer } = openPortal(this.opts, config, token, this.#privateKey);
    this.#portal = portal;
    this.#wire(portal, generation);
    // Known before the first routes go in, so they never cover the portal connection itself.
    await this.#resolvePortal(generation);
    portal.start();
    const answer = await Promise.race([
      firstAnswer,
      Bun.sleep(this.opts.signInWaitMs ?? 10_000).then(() => null),
    ]);
    if (answer && typeof answer === "object") throw new FzError("invalid_token", answer.refused);
    // No answer yet (portal unreachable): the status says `connecting` with the reason, and the
    // portal client keeps trying by itself.
  }

  async signOut(reason: string): Promise<void> {
    if (!this.opts.portal.configured) return;
    if (this.#state === "signed_out" && !this.#portal) return;
    this.opts.logger.info("signing out", { reason });
    await this.#teardown();
    this.#lastError = undefined;
    this.#setState("signed_out");
  }

  async stop(): Promise<void> {
    await this.#teardown();
  }

  /**
   * The way out changed (docs/session.md): the portal is dialled again at once with its backoff
   * started over, every gateway's endpoint is set again so WireGuard sends from the current uplink,
   * and the device, its addresses and routes stay, so connections to resources survive.
   */
  reset(cause: ResetCause): boolean {
    const portal = this.#portal;
    if (!portal) return false;
    const generation = this.#generation;
    this.#lastReset = { cause, at: new Date().toISOString() };
    this.#resetPending = true;
    this.#joined = false;
    this.#setState(this.#state === "connecting" ? "connecting" : "reconnecting");
    // The portal's name may point elsewhere from the new network.
    void this.#resolvePortal(generation);
    portal.reconnect?.(cause);
    if (this.#reconciler.up) {
      this.#reconciler.refreshPaths();
      this.#scheduleReconcile(generation);
    }
    // The new network's DNS servers, and resolver settings another program may have rewritten.
    void this.#dns?.refresh();
    return true;
  }

  /**
   * The network is changing (the first notification of a burst, before reset() at its end): every
   * gateway's endpoint is set again now, so WireGuard stops sending from a source address the host
   * may have lost without waiting for the debounce. Keys, device and routes stay; nothing else moves.
   */
  refreshPaths(): void {
    if (!this.#portal || !this.#reconciler.up) return;
    this.#reconciler.refreshPaths();
    this.#scheduleReconcile(this.#generation);
  }

  /**
   * A reloaded configuration's portal. A signed-in session signs in again at once with the token
   * it holds; without a usable portal the session tears down and says why (`not_configured`).
   * Never throws: the outcome shows in status.
   */
  async setPortal(portal: PortalConfig): Promise<void> {
    this.opts.portal = portal;
    const token = this.#token;
    if (!portal.configured) {
      await this.#teardown();
      this.#lastError = portal.message;
      this.#setState("not_configured");
      return;
    }
    if (this.#state === "not_configured") {
      this.#lastError = undefined;
      this.#setState("signed_out");
      return;
    }
    if (!token || !this.#portal) return;
    this.opts.logger.info("the portal changed; signing in there", { url: portal.url });
    // Not awaited: the portal's first answer may take seconds; status and events carry the outcome.
    void this.signIn(token, {}).catch((err: unknown) =>
      this.opts.logger.warn("sign-in at the new portal failed", { reason: (err as Error).message }),
    );
  }

  /** A problem outside the portal's view (the tunnel backend failed): shown as the last error. */
  noteError(message: string): void {
    this.#lastError = message;
    this.#emit("status");
  }

  #wire(portal: PortalLike, generation: number): void {
    const live = <E extends keyof PortalClientEvents>(event: E, fn: (p: PortalClientEvents[E]) => void) =>
      portal.on(event, (payload) => {
        if (generation === this.#generation) fn(payload);
      });
    live("init", (init) => this.#onInit(init, generation));
    live("config_changed", ({ interface: iface }) => this.#onConfigChanged(iface, generation));
    live("disconnected", ({ reason, retryInMs }) => {
      void this.#resolvePortal(generation);
      this.#joined = false;
      this.#lastError = `lost the portal connection (${displayText(reason, 256)}); retrying in ${Math.ceil(retryInMs / 1000)} s`;
      this.#setState(this.#state === "connecting" ? "connecting" : "reconnecting");
    });
    live("resource_created_or_updated", (entry) => {
      const id = this.#resources.update(entry);
      if (id) this.#requests.request(id, generation);
      else this.#scheduleReconcile(generation);
    });
    live("resource_deleted", ({ id }) => {
      this.#resources.delete(id);
      this.#scheduleReconcile(generation);
    });
    live("connection_details", (d) => {
      if (this.#resources.takeDetails(d)) this.#scheduleReconcile(generation);
    });
    live("signed_out", ({ message }) => {
      this.opts.logger.warn("the portal refused the token; signed out", { reason: message });
      void this.#teardown()
        .catch((err: unknown) => this.opts.logger.error("teardown after sign-out failed", { error: err }))
        .then(() => {
          this.#lastError = message;
          this.#setState("signed_out");
        });
    });
  }

  /** Resolves the portal's host (again: at sign-in and on every reconnect) and replans if it moved. */
  async #resolvePortal(generation: number): Promise<void> {
    const moved = await this.#portalAddresses.refresh(
      this.opts.portal,
      () => generation !== this.#generation,
    );
    if (moved && this.#reconciler.up) this.#scheduleReconcile(generation);
  }

  #onInit(init: Init, generation: number): void {
    void this.#resolvePortal(generation);
    this.#account = init.account.slug;
    this.#actor = init.actor.name;
    this.#joined = true;
    this.#resources.replaceAll(init.resources);
    this.#resources.changed();
    this.#lastError = undefined;
    this.#resetPending = false;
    const taken = this.#iface.take(init.interface, "init");
    if (!taken.ok) {
      this.#lastError = taken.lastError;
      this.#setState("connecting");
      this.#scheduleReconcile(generation);
      return;
    }
    this.#setState("connected");
    this.#scheduleReconcile(generation);
    void this.#requests.requestAll(generation);
  }

  /** New addresses or DNS servers, applied without leaving the portal session. */
  #onConfigChanged(entry: InterfaceEntry, generation: number): void {
    if (!this.#joined) return;
    const hadTunnel = this.#iface.addresses.length > 0;
    const before = this.#iface.addresses.join();
    const taken = this.#iface.take(entry, "config_changed");
    if (!taken.ok) {
      this.#lastError = taken.lastError;
      this.#setState("connecting");
      this.#scheduleReconcile(generation);
      return;
    }
    if (before !== this.#iface.addresses.join())
      this.opts.logger.info("the portal changed the tunnel addresses", { addresses: this.#iface.addresses });
    if (!hadTunnel) {
      this.#lastError = undefined;
      this.#setState("connected");
      void this.#requests.requestAll(generation);
    } else this.#emit("status");
    this.#scheduleReconcile(generation);
  }

  #scheduleReconcile(generation: number): void {
    this.#reconciler.schedule(generation);
  }

  async #teardown(): Promise<void> {
    this.#generation++;
    this.#token = null;
    this.#portal?.stop();
    this.#portal = null;
    this.#privateKey = null;
    this.#account = undefined;
    this.#actor = undefined;
    this.#iface.clear();
    this.#joined = false;
    this.#resources.clear();
    this.#portalAddresses.clear();
    this.#reconciler.forget();
    this.#resetPending = false;
    this.#resources.changed();
    await this.#reconciler.down();
  }

  #setState(state: State): void {
    this.#state = state;
    this.#emit("status");
  }

  /** A listener that throws is logged and the others still run: an emit never fails the session. */
  #emit(change: SessionChange): void {
    for (const l of this.#listeners) {
      try {
        l(change);
      } catch (err) {
        this.opts.logger.error("a session listener failed", { change, error: err });
      }
    }
  }
}
