// The portal-backed session: signed_out -> connecting -> connected <-> reconnecting, or for good
// not_configured when the daemon has no usable portal URL. It turns the
// portal's events into the tunnel's configuration: interface addresses on `init`, one WireGuard peer
// per gateway, and routes for exactly the resources the actor may reach.
import { lookup } from "node:dns/promises";
import { type DnsResourceEntry, type ProxyIps, parseDnsPattern } from "../dns/index.ts";
import type { IpcResource } from "../ipc/index.ts";
import {
  type ConnectionDetails,
  type Init,
  type InterfaceConfig,
  type InterfaceEntry,
  PortalClient,
  type PortalClientEvents,
  type PortalClientOptions,
  PortalRequestError,
  type PortalResource,
  portalWebUrl,
  type ResourceEntry,
  ROUTED_TYPES,
  type SkippedResource,
} from "../portal/index.ts";
import { FzError } from "../types/index.ts";
import {
  displayText,
  formatIp,
  generatePrivateKey,
  type Logger,
  publicKeyOf,
  TUNNEL_POOL_V4,
  TUNNEL_POOL_V6,
} from "../util/index.ts";
import type { PortalConfig } from "./config.ts";
import { addDnsProxies } from "./dns_plan.ts";
import { DnsSession, type DnsSessionOptions, linkIndex } from "./dns_session.ts";
import { internetPart } from "./internet_part.ts";
import type { ResetCause, ResetRecord } from "./network_reset.ts";
import type { ResourceList } from "./resource_pages.ts";
import type { Session, SessionChange, SessionSnapshot, SignInHints } from "./session.ts";
import { DEFAULT_INTERNET_RESOURCE, type InternetResourcePrefs } from "./settings.ts";
import type { TunnelControl } from "./tunnel_control.ts";
import { type AppliedPeers, peerChanges, planTunnel } from "./tunnel_plan.ts";

/** The part of PortalClient the session uses, so tests can drive it without a portal. */
export interface PortalLike {
  start(): void;
  stop(): void;
  on<E extends keyof PortalClientEvents>(
    event: E,
    listener: (payload: PortalClientEvents[E]) => void,
  ): () => void;
  requestConnection(resourceId: string, timeoutMs?: number, dns?: DnsRequest): Promise<ConnectionDetails>;
  /** Dial again at once with the backoff started over (a session reset). */
  reconnect?(reason: string): void;
}

/** For a `dns` resource: the name asked for and the proxy addresses the stub answered with. */
export interface DnsRequest {
  name: string;
  proxy_ipv4: string;
  proxy_ipv6: string;
}

export interface PortalSessionOptions {
  /** Where the portal is; without one the session stays `not_configured` and never dials. */
  portal: PortalConfig;
  deviceId: string;
  deviceName?: string;
  version: string;
  tunnel: TunnelControl;
  logger: Logger;
  /** The Internet Resource switch at start (the saved choice, else the configured default). */
  internetResource?: InternetResourcePrefs;
  /** How long sign_in waits for the portal's first answer before returning `connecting`. */
  signInWaitMs?: number;
  createPortal?: (options: PortalClientOptions) => PortalLike;
  /**
   * DNS resources: the stub on the tunnel and the system's resolver pointed at it
   * (lib/daemon/dns_session.ts). Without it, `dns` resources are reported as not supported.
   */
  dns?: Pick<DnsSessionOptions, "setting" | "stateDir" | "resolvConfPath" | "listenPort" | "onUnfollowable">;
  /** The portal host's addresses, resolved off the event loop; default node:dns lookup (all). */
  resolvePortal?: (host: string) => Promise<string[]>;
}

/** The portal's addresses kept per session: enough for round-robin DNS, bounded all the same. */
const MAX_PORTAL_ADDRESSES = 32;

const lookupAll = async (host: string): Promise<string[]> =>
  (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);

type State = SessionSnapshot["state"];

/** At most this many warnings are shown in status; the rest are counted (all are in the log). */
const MAX_SHOWN_WARNINGS = 20;
/** Per init, skipped resources logged one by one before the rest are only counted. */
const MAX_LOGGED_SKIPS = 50;
const collator = new Intl.Collator("en");
const RECONCILE_QUIET_MS = 25;
const RECONCILE_MAX_WAIT_MS = 1000;
const REQUESTS_PER_TURN = 256;
const LARGE_BURST = 5000;

export class PortalSession implements Session {
  #state: State;
  #portal: PortalLike | null = null;
  /** The signed-in token, kept only so a new portal URL (settings set, SIGHUP) can reconnect. */
  #token: string | null = null;
  #privateKey: string | null = null;
  #account: string | undefined;
  #actor: string | undefined;
  #addresses: string[] = [];
  #upstreamDns: string[] = [];
  /** The portal's search_domain, for systemd-resolved's link domains and resolv.conf's `search`. */
  #searchDomains: string[] = [];
  /** An init arrived on this connection: later config_changed and resource events apply to it. */
  #joined = false;
  #lastError: string | undefined;
  readonly #resources = new Map<string, IpcResource>();
  /** Problems that did not stop the session, by what they are about (a resource id, "interface"). */
  readonly #warnings = new Map<string, string>();
  /** Bumped on every change to the resource list; the sorted list is built only when read. */
  #resourcesVersion = 0;
  #sorted: ResourceList | null = null;
  readonly #details = new Map<string, ConnectionDetails>();
  readonly #listeners = new Set<(change: SessionChange) => void>();
  #tunnelAddresses: string[] | null = null;
  /** Every address the portal's host resolved to in this session: routes are cut around them. */
  #portalAddresses: string[] = [];
  /** What the last plan refused or narrowed (lib/daemon/tunnel_plan.ts). */
  /** What the last tunnel plan narrowed or refused (already capped by the plan). */
  #routeWarnings: string[] = [];
  #loggedRouteWarnings: string[] = [];
  /** The peers as last applied, by public key, to send only what changed. */
  #appliedPeers: AppliedPeers = new Map();
  /** Tunnel changes run one at a time, in order; a burst of events coalesces into one reconcile. */
  #queue: Promise<void> = Promise.resolve();
  #reconcilePending = false;
  /** Events since the last collection after a burst (see #scheduleReconcile). */
  #burst = 0;
  #lastChangeAt = 0;
  /** How long the last tunnel pass took; the next one waits at least as long. */
  #lastPassMs = 0;
  /** Bumped by every sign-in and sign-out, so work begun for an older session does nothing. */
  #generation = 0;
  #internet: InternetResourcePrefs;
  /** Whether the Internet Resource's routes and rules are in force (the last reconcile put them in). */
  #internetActive = false;
  /** The last reset; its cause stays in status as `reconnectCause` until the portal's next init. */
  #lastReset: ResetRecord | undefined;
  #resetPending = false;
  /** The next tunnel pass sets every peer's endpoint again (a reset: the uplink changed). */
  #refreshPaths = false;

  /** The DNS stub and resolver control, while configured (`opts.dns`). */
  readonly #dns: DnsSession | null;
  /** The resources version the stub last got, to hand it the table only when it changed. */
  #dnsResourcesVersion = -1;

  constructor(private readonly opts: PortalSessionOptions) {
    this.#state = opts.portal.configured ? "signed_out" : "not_configured";
    if (!opts.portal.configured) this.#lastError = opts.portal.message;
    this.#internet = opts.internetResource ?? DEFAULT_INTERNET_RESOURCE;
    this.#dns = opts.dns
      ? new DnsSession({
          ...opts.dns,
          logger: opts.logger.child("dns"),
          requestConnection: (resourceId, name, ips) => this.#requestDns(resourceId, name, ips),
          onWarning: (text) => {
            if (text) this.#warnings.set("dns_system", text);
            else if (!this.#warnings.delete("dns_system")) return;
            this.#emit("status");
          },
        })
      : null;
  }

  snapshot(): SessionSnapshot {
    const portal = this.opts.portal;
    return {
      state: this.#state,
      ...(portal.configured ? { portalUrl: portalWebUrl(portal.url) } : {}),
      ...(this.#account ? { account: this.#account } : {}),
      ...(this.#actor ? { actor: this.#actor } : {}),
      ...(this.#addresses.length
        ? { addresses: [...this.#addresses], interfaceName: this.opts.tunnel.name }
        : {}),
      resourceCount: this.#resources.size,
      ...(this.#lastError ? { lastError: this.#lastError } : {}),
      ...(this.#warnings.size || this.#routeWarnings.length ? { warnings: this.warnings() } : {}),
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
    const id = this.#internetId();
    if (prefs.enabled && id && !this.#details.has(id)) this.#request(id, this.#generation);
    this.#scheduleReconcile(this.#generation);
    // The answer reflects the routes as they are (bounded: a stuck tunnel must not hold the caller).
    await Promise.race([this.#queue, Bun.sleep(5000)]);
  }

  #internetId(): string | undefined {
    for (const r of this.#resources.values()) if (r.type === "internet") return r.id;
    return undefined;
  }

  #internetStatus(): NonNullable<SessionSnapshot["internetResource"]> {
    return { ...this.#internet, available: this.#internetId() !== undefined, active: this.#internetActive };
  }

  /** The warnings as status shows them: the first few, then how many more the log holds. */
  warnings(): string[] {
    const all = [...this.#warnings.values(), ...this.#routeWarnings];
    if (all.length <= MAX_SHOWN_WARNINGS) return all;
    return [
      ...all.slice(0, MAX_SHOWN_WARNINGS),
      `... and ${all.length - MAX_SHOWN_WARNINGS} more warnings (see the daemon's log)`,
    ];
  }

  /** The upstream DNS servers the portal gave with the interface (for the DNS work to consume). */
  upstreamDns(): string[] {
    return [...this.#upstreamDns];
  }

  resources(): ResourceList {
    if (this.#sorted?.version !== this.#resourcesVersion) {
      const list = [...this.#resources.values()].sort(
        (a, b) => collator.compare(a.name, b.name) || (a.id < b.id ? -1 : 1),
      );
      this.#sorted = { version: this.#resourcesVersion, list };
    }
    return this.#sorted;
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
    const create = this.opts.createPortal ?? ((o: PortalClientOptions) => new PortalClient(o));
    const portal = create({
      url: config.url,
      allowInsecure: config.allowInsecure,
      ca: config.ca,
      token,
      publicKey: publicKeyOf(this.#privateKey),
      deviceId: this.opts.deviceId,
      version: this.opts.version,
      logger: this.opts.logger.child("portal"),
      ...(this.opts.deviceName ? { deviceName: this.opts.deviceName } : {}),
    });
    this.#portal = portal;
    const firstAnswer = new Promise<"init" | { refused: string }>((resolve) => {
      portal.on("init", () => resolve("init"));
      portal.on("signed_out", (e) => resolve({ refused: e.message }));
    });
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
    if (this.#tunnelAddresses) {
      this.#refreshPaths = true;
      this.#scheduleReconcile(generation);
    }
    // The new network's DNS servers, and resolver settings another program may have rewritten.
    void this.#dns?.refresh();
    return true;
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
      const id = this.#applyEntry(entry);
      this.#resourcesChanged();
      this.#emit("status");
      if (id) this.#request(id, generation);
      else this.#scheduleReconcile(generation);
    });
    live("resource_deleted", ({ id }) => {
      this.#resources.delete(id);
      this.#details.delete(id);
      this.#warnings.delete(id);
      this.#warnings.delete(`details:${id}`);
      this.#resourcesChanged();
      this.#emit("status");
      this.#scheduleReconcile(generation);
    });
    live("connection_details", (d) => {
      if (!this.#resources.has(d.resource_id)) return;
      this.#details.set(d.resource_id, d);
      this.#noteRejectedAllowedIps(d);
      this.#setGatewayStatus(d.resource_id, "online");
      this.#scheduleReconcile(generation);
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
    const config = this.opts.portal;
    if (!config.configured) return;
    let host: string;
    try {
      host = new URL(config.url).hostname.replace(/^\[(.*)\]$/, "$1");
    } catch {
      return;
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const found = await Promise.race([
        (this.opts.resolvePortal ?? lookupAll)(host),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error("no answer within 5 s")), 5000);
        }),
      ]);
      if (generation !== this.#generation) return;
      const fresh = found.filter((a) => !this.#portalAddresses.includes(a));
      if (fresh.length === 0) return;
      this.#portalAddresses = [...this.#portalAddresses, ...fresh].slice(-MAX_PORTAL_ADDRESSES);
      if (this.#tunnelAddresses) this.#scheduleReconcile(generation);
    } catch (err) {
      this.opts.logger.warn("could not resolve the portal's address; routes are not cut around it", {
        host,
        error: err instanceof Error ? err.message : String(err),
      });
    } finally {
      clearTimeout(timer);
    }
  }

  #onInit(init: Init, generation: number): void {
    void this.#resolvePortal(generation);
    this.#account = init.account.slug;
    this.#actor = init.actor.name;
    this.#joined = true;
    // `init` is the whole truth: forget resources, paths and warnings it does not bring again.
    const previous = new Map(this.#resources);
    this.#resources.clear();
    this.#warnings.clear();
    const tally = { logged: 0 };
    for (const entry of init.resources) this.#applyEntry(entry, tally, previous);
    if (tally.logged > MAX_LOGGED_SKIPS)
      this.opts.logger.warn("more resources skipped", { count: tally.logged - MAX_LOGGED_SKIPS });
    for (const id of this.#details.keys()) if (!this.#resources.has(id)) this.#details.delete(id);
    this.#resourcesChanged();
    this.#lastError = undefined;
    this.#resetPending = false;
    if (!this.#takeInterface(init.interface, "init")) {
      this.#setState("connecting");
      this.#scheduleReconcile(generation);
      return;
    }
    this.#setState("connected");
    this.#scheduleReconcile(generation);
    void this.#requestAll(generation);
  }

  /**
   * A request_connection for every resource, a few hundred per turn of the event loop, so that
   * IPC clients (firezonectl status) are answered while 20,000 requests go out.
   */
  async #requestAll(generation: number): Promise<void> {
    let n = 0;
    for (const id of [...this.#resources.keys()]) {
      if (generation !== this.#generation) return;
      this.#request(id, generation);
      if (++n % REQUESTS_PER_TURN === 0) await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /**
   * Interface addresses outside the pools are refused: no tunnel, and the reason in lastError. On a
   * later config_changed the addresses in force are kept instead, with a warning.
   */
  #takeInterface(entry: InterfaceEntry, from: "init" | "config_changed"): boolean {
    if (entry.ok) {
      this.#setAddresses(entry.value);
      this.#warnings.delete("interface");
      if (entry.warning)
        this.#warn("search_domain", `The portal's search domain is not used: ${entry.warning}`, {});
      else this.#warnings.delete("search_domain");
      return true;
    }
    const reason = entry.reason;
    this.opts.logger.warn("refusing the tunnel addresses the portal sent", { event: from, reason });
    if (from === "config_changed" && this.#addresses.length > 0) {
      this.#warnings.set(
        "interface",
        `The portal sent new tunnel addresses this client refuses (${reason}); the current ones stay in use.`,
      );
      return true;
    }
    this.#addresses = [];
    this.#lastError =
      `The portal assigned tunnel addresses this client refuses: ${reason}. No tunnel is set up. ` +
      `Ask the portal's administrator to assign addresses from ${TUNNEL_POOL_V4} and ${TUNNEL_POOL_V6}.`;
    return false;
  }

  #setAddresses(iface: InterfaceConfig): void {
    this.#addresses = [`${iface.ipv4}/32`, `${iface.ipv6}/128`];
    this.#upstreamDns = [...iface.upstream_dns];
    this.#searchDomains = iface.search_domain ? [iface.search_domain] : [];
  }

  /** New addresses or DNS servers, applied without leaving the portal session. */
  #onConfigChanged(entry: InterfaceEntry, generation: number): void {
    if (!this.#joined) return;
    const hadTunnel = this.#addresses.length > 0;
    const before = this.#addresses.join();
    if (!this.#takeInterface(entry, "config_changed")) {
      this.#setState("connecting");
      this.#scheduleReconcile(generation);
      return;
    }
    if (before !== this.#addresses.join())
      this.opts.logger.info("the portal changed the tunnel addresses", { addresses: this.#addresses });
    if (!hadTunnel) {
      this.#lastError = undefined;
      this.#setState("connected");
      void this.#requestAll(generation);
    } else this.#emit("status");
    this.#scheduleReconcile(generation);
  }

  /**
   * Takes one parsed resource into the list, or records why not. Returns the id to request a path
   * for, if the resource is routed. `tally` counts log lines for skips within one init.
   */
  #applyEntry(
    entry: ResourceEntry,
    tally?: { logged: number },
    previous: Map<string, IpcResource> = this.#resources,
  ): string | undefined {
    if (!entry.ok) {
      const s = entry.skipped;
      if (s.id) this.#forget(s.id);
      this.#warn(s.id ?? `skipped:${this.#warnings.size}`, skipText(s), { ...s }, tally);
      return undefined;
    }
    const r = entry.resource;
    const dnsServed = r.type === "dns" && this.#dns !== null;
    if (!(ROUTED_TYPES as readonly string[]).includes(r.type) && !dnsServed) {
      this.#forget(r.id);
      this.#warn(
        r.id,
        `Resource "${r.name}" (${r.type}) is not supported by this client yet; it is not routed.`,
        { id: r.id, type: r.type },
        tally,
      );
      return undefined;
    }
    this.#warnings.delete(r.id);
    this.#resources.set(r.id, {
      ...toIpc(r),
      gatewayStatus: previous.get(r.id)?.gatewayStatus ?? "connecting",
    });
    return r.id;
  }

  #forget(id: string): void {
    this.#resources.delete(id);
    this.#details.delete(id);
  }

  #warn(key: string, text: string, fields: Record<string, unknown>, tally?: { logged: number }): void {
    this.#warnings.set(key, text);
    if (!tally || tally.logged++ < MAX_LOGGED_SKIPS) this.opts.logger.warn(text, fields);
  }

  #noteRejectedAllowedIps(d: ConnectionDetails): void {
    const key = `details:${d.resource_id}`;
    if (d.rejected_allowed_ips.length === 0) {
      this.#warnings.delete(key);
      return;
    }
    const name = this.#resources.get(d.resource_id)?.name ?? d.resource_id;
    const text =
      `Resource "${name}": ${d.rejected_allowed_ips.length} allowed IP(s) from the portal were dropped ` +
      `(${d.rejected_allowed_ips.slice(0, 3).join("; ")}); the others are routed.`;
    this.#warn(key, text, { resource: d.resource_id });
    this.#emit("status");
  }

  #resourcesChanged(): void {
    this.#resourcesVersion++;
    this.#emit("resources");
  }

  #request(resourceId: string, generation: number): void {
    if (resourceId === this.#internetId() && !this.#internet.enabled) return;
    this.#portal?.requestConnection(resourceId).catch((err: unknown) => {
      if (generation !== this.#generation) return;
      // The reason comes from the portal: bounded and escaped before it reaches a log line.
      const reason = displayText(err instanceof PortalRequestError ? err.reason : String(err), 128);
      // `offline`: the portal pushes connection_details when a gateway of the site joins.
      this.opts.logger.info("no path to a resource yet", { resource: resourceId, reason });
      this.#setGatewayStatus(resourceId, reason === "offline" ? "offline" : "unknown");
    });
  }

  /**
   * The stub's hook: a name of a `dns` resource was asked for. Tells the portal the name and its
   * proxy addresses (the gateway maps them before it confirms), then applies the details at once,
   * so the application's first packet finds the proxy addresses on the gateway's peer.
   */
  async #requestDns(resourceId: string, name: string, ips: ProxyIps): Promise<void> {
    const portal = this.#portal;
    if (!portal) return;
    const generation = this.#generation;
    const details = await portal.requestConnection(resourceId, 3000, {
      name,
      proxy_ipv4: formatIp(ips.v4),
      proxy_ipv6: formatIp(ips.v6),
    });
    if (generation !== this.#generation || !this.#resources.has(resourceId)) return;
    this.#details.set(resourceId, details);
    this.#setGatewayStatus(resourceId, "online");
    await this.#enqueue(async () => {
      if (generation === this.#generation) await this.#applyToTunnel();
    });
  }

  /** The `dns` resources as the stub's table; a pattern lib/dns refuses is skipped with a warning. */
  #dnsEntries(): DnsResourceEntry[] {
    const out: DnsResourceEntry[] = [];
    for (const r of this.#resources.values()) {
      if (r.type !== "dns") continue;
      try {
        out.push({ id: r.id, pattern: parseDnsPattern(r.address) });
      } catch (err) {
        this.#warn(r.id, `Resource "${r.name}": ${(err as Error).message}`, { id: r.id });
      }
    }
    return out;
  }

  /** Starts DNS on a fresh device, hands the stub a changed resource table. Never throws. */
  async #syncDns(): Promise<void> {
    const dns = this.#dns;
    if (!dns) return;
    if (!dns.active) {
      try {
        await dns.start({
          ifindex: linkIndex(this.opts.tunnel.name),
          upstreamDns: this.#upstreamDns,
          searchDomains: this.#searchDomains,
          resources: this.#dnsEntries(),
        });
        this.#dnsResourcesVersion = this.#resourcesVersion;
        this.#warnings.delete("dns");
      } catch (err) {
        const text = `DNS resources do not resolve: ${(err as Error).message}`;
        if (this.#warnings.get("dns") !== text) this.#warn("dns", text, {});
      }
      this.#emit("status");
      return;
    }
    if (this.#dnsResourcesVersion !== this.#resourcesVersion) {
      dns.setResources(this.#dnsEntries());
      this.#dnsResourcesVersion = this.#resourcesVersion;
    }
    await dns.reconfigure(this.#upstreamDns, this.#searchDomains);
  }

  #setGatewayStatus(resourceId: string, status: NonNullable<IpcResource["gatewayStatus"]>): void {
    const r = this.#resources.get(resourceId);
    if (!r || r.gatewayStatus === status) return;
    this.#resources.set(resourceId, { ...r, gatewayStatus: status });
    this.#resourcesChanged();
  }

  #scheduleReconcile(generation: number): void {
    this.#burst++;
    this.#lastChangeAt = performance.now();
    if (this.#reconcilePending) return;
    this.#reconcilePending = true;
    this.#enqueue(async () => {
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
      if (generation !== this.#generation) return;
      const started = performance.now();
      await this.#applyToTunnel();
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

  #enqueue(work: () => Promise<void>): Promise<void> {
    const next = this.#queue.then(work).catch((err: unknown) => {
      const message = err instanceof Error ? err.message : String(err);
      this.opts.logger.error("tunnel update failed", { error: message });
      this.#lastError = `tunnel update failed: ${message}`;
      this.#emit("status");
    });
    this.#queue = next;
    return next;
  }

  /** Brings the device to what the session says: addresses, one peer per gateway, routes. */
  async #applyToTunnel(): Promise<void> {
    if (!this.#privateKey) return;
    const tunnel = this.opts.tunnel;
    if (this.#addresses.length === 0) {
      // The portal's addresses were refused: nothing of the tunnel may stay configured.
      if (this.#tunnelAddresses) {
        this.#tunnelAddresses = null;
        this.#appliedPeers.clear();
        this.#internetActive = false;
        await this.#dns?.stop();
        await tunnel.down();
      }
      return;
    }
    if (this.#tunnelAddresses && this.#tunnelAddresses.join() !== this.#addresses.join()) {
      await this.#dns?.stop();
      await tunnel.down();
      this.#tunnelAddresses = null;
    }
    if (!this.#tunnelAddresses) {
      await tunnel.up({ privateKey: this.#privateKey, addresses: this.#addresses });
      this.#tunnelAddresses = [...this.#addresses];
      this.#appliedPeers.clear();
    }
    const internet = internetPart({
      prefs: this.#internet,
      internetId: this.#internetId(),
      details: this.#details.values(),
      portalAddresses: this.#portalAddresses,
    });
    await this.#syncDns();
    const plan = planTunnel(internet.others, {
      protect: this.#portalAddresses.map((address) => ({ address, what: "the portal" })),
    });
    if (this.#dns?.active)
      addDnsProxies(plan, this.#details.values(), (id) => this.#dns!.allowedIpsFor(id), this.#dns.routes());
    if (plan.allWarnings.join("\n") !== this.#loggedRouteWarnings.join("\n")) {
      const before = new Set(this.#loggedRouteWarnings);
      for (const w of plan.allWarnings.filter((x) => !before.has(x)))
        this.opts.logger.warn("route narrowed or refused", { warning: w });
      this.#loggedRouteWarnings = plan.allWarnings;
      this.#routeWarnings = plan.warnings;
      this.#emit("status");
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
      this.#emit("status");
    }
  }

  async #teardown(): Promise<void> {
    this.#generation++;
    this.#token = null;
    this.#portal?.stop();
    this.#portal = null;
    this.#privateKey = null;
    this.#account = undefined;
    this.#actor = undefined;
    this.#addresses = [];
    this.#upstreamDns = [];
    this.#searchDomains = [];
    this.#joined = false;
    this.#resources.clear();
    this.#details.clear();
    this.#portalAddresses = [];
    this.#internetActive = false;
    this.#resetPending = false;
    this.#refreshPaths = false;
    this.#warnings.clear();
    this.#routeWarnings = [];
    this.#loggedRouteWarnings = [];
    this.#resourcesChanged();
    await this.#enqueue(async () => {
      // DNS first: the system's resolver is put back before the stub's addresses disappear.
      await this.#dns?.stop();
      if (!this.#tunnelAddresses) return;
      this.#tunnelAddresses = null;
      await this.opts.tunnel.down();
    });
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

function skipText(s: SkippedResource): string {
  const what = s.name ? `"${s.name}"` : s.id ? `with id ${s.id}` : "without a usable id";
  return `Resource ${what} was skipped: ${s.reason}.`;
}

function toIpc(r: PortalResource): IpcResource {
  return {
    id: r.id,
    name: r.name,
    type: r.type,
    address: "address" in r ? r.address : "",
    site: { id: r.site.id, name: r.site.name },
  };
}
