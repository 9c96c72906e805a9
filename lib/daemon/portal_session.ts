// The portal-backed session: signed_out -> connecting -> connected <-> reconnecting, or for good
// not_configured when the daemon has no usable portal URL. It turns the
// portal's events into the tunnel's configuration: interface addresses on `init`, one WireGuard peer
// per gateway, and routes for exactly the resources the actor may reach.
import { lookup } from "node:dns/promises";
import type { IpcResource } from "../ipc/index.ts";
import {
  type ConnectionDetails,
  type Init,
  PortalClient,
  type PortalClientEvents,
  type PortalClientOptions,
  PortalRequestError,
  portalWebUrl,
} from "../portal/index.ts";
import { FzError, type Resource } from "../types/index.ts";
import { generatePrivateKey, type Logger, publicKeyOf } from "../util/index.ts";
import type { PortalConfig } from "./config.ts";
import type { Session, SessionChange, SessionSnapshot, SignInHints } from "./session.ts";
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
  requestConnection(resourceId: string): Promise<ConnectionDetails>;
}

export interface PortalSessionOptions {
  /** Where the portal is; without one the session stays `not_configured` and never dials. */
  portal: PortalConfig;
  deviceId: string;
  deviceName?: string;
  version: string;
  tunnel: TunnelControl;
  logger: Logger;
  /** How long sign_in waits for the portal's first answer before returning `connecting`. */
  signInWaitMs?: number;
  createPortal?: (options: PortalClientOptions) => PortalLike;
  /** The portal host's addresses, resolved off the event loop; default node:dns lookup (all). */
  resolvePortal?: (host: string) => Promise<string[]>;
}

/** The portal's addresses kept per session: enough for round-robin DNS, bounded all the same. */
const MAX_PORTAL_ADDRESSES = 32;

const lookupAll = async (host: string): Promise<string[]> =>
  (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);

type State = SessionSnapshot["state"];

export class PortalSession implements Session {
  #state: State;
  #portal: PortalLike | null = null;
  #privateKey: string | null = null;
  #account: string | undefined;
  #actor: string | undefined;
  #addresses: string[] = [];
  #lastError: string | undefined;
  readonly #resources = new Map<string, IpcResource>();
  readonly #details = new Map<string, ConnectionDetails>();
  readonly #listeners = new Set<(change: SessionChange) => void>();
  #tunnelAddresses: string[] | null = null;
  /** Every address the portal's host resolved to in this session: routes are cut around them. */
  #portalAddresses: string[] = [];
  /** What the last plan refused or narrowed (lib/daemon/tunnel_plan.ts). */
  #warnings: string[] = [];
  #loggedWarnings: string[] = [];
  /** The peers as last applied, by public key, to send only what changed. */
  #appliedPeers: AppliedPeers = new Map();
  /** Tunnel changes run one at a time, in order; a burst of events coalesces into one reconcile. */
  #queue: Promise<void> = Promise.resolve();
  #reconcilePending = false;
  /** Bumped by every sign-in and sign-out, so work begun for an older session does nothing. */
  #generation = 0;

  constructor(private readonly opts: PortalSessionOptions) {
    this.#state = opts.portal.configured ? "signed_out" : "not_configured";
    if (!opts.portal.configured) this.#lastError = opts.portal.message;
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
      ...(this.#warnings.length ? { warnings: [...this.#warnings] } : {}),
    };
  }

  resources(): IpcResource[] {
    return [...this.#resources.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  onChange(listener: (change: SessionChange) => void): void {
    this.#listeners.add(listener);
  }

  async signIn(token: string, _hints: SignInHints): Promise<void> {
    const config = this.opts.portal;
    if (!config.configured) throw new FzError("not_configured", config.message);
    if (this.#portal) await this.#teardown();
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
    live("disconnected", ({ reason, retryInMs }) => {
      void this.#resolvePortal(generation);
      this.#lastError = `lost the portal connection (${reason}); retrying in ${Math.ceil(retryInMs / 1000)} s`;
      this.#setState(this.#state === "connecting" ? "connecting" : "reconnecting");
    });
    live("resource_created_or_updated", (r) => {
      this.#resources.set(r.id, {
        ...toIpc(r),
        gatewayStatus: this.#resources.get(r.id)?.gatewayStatus ?? "connecting",
      });
      this.#emit("resources");
      this.#emit("status");
      this.#request(r.id, generation);
    });
    live("resource_deleted", ({ id }) => {
      this.#resources.delete(id);
      this.#details.delete(id);
      this.#emit("resources");
      this.#emit("status");
      this.#scheduleReconcile(generation);
    });
    live("connection_details", (d) => {
      if (!this.#resources.has(d.resource_id)) return;
      this.#details.set(d.resource_id, d);
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
    this.#addresses = [`${init.interface.ipv4}/32`, `${init.interface.ipv6}/128`];
    // `init` is the whole truth: forget resources and paths it does not list.
    const ids = new Set(init.resources.map((r) => r.id));
    for (const id of this.#details.keys()) if (!ids.has(id)) this.#details.delete(id);
    const previous = new Map(this.#resources);
    this.#resources.clear();
    for (const r of init.resources) {
      this.#resources.set(r.id, {
        ...toIpc(r),
        gatewayStatus: previous.get(r.id)?.gatewayStatus ?? "connecting",
      });
    }
    this.#lastError = undefined;
    this.#setState("connected");
    this.#emit("resources");
    this.#scheduleReconcile(generation);
    for (const r of init.resources) this.#request(r.id, generation);
  }

  #request(resourceId: string, generation: number): void {
    this.#portal?.requestConnection(resourceId).catch((err: unknown) => {
      if (generation !== this.#generation) return;
      const reason = err instanceof PortalRequestError ? err.reason : String(err);
      // `offline`: the portal pushes connection_details when a gateway of the site joins.
      this.opts.logger.info("no path to a resource yet", { resource: resourceId, reason });
      this.#setGatewayStatus(resourceId, reason === "offline" ? "offline" : "unknown");
    });
  }

  #setGatewayStatus(resourceId: string, status: NonNullable<IpcResource["gatewayStatus"]>): void {
    const r = this.#resources.get(resourceId);
    if (!r || r.gatewayStatus === status) return;
    this.#resources.set(resourceId, { ...r, gatewayStatus: status });
    this.#emit("resources");
  }

  #scheduleReconcile(generation: number): void {
    if (this.#reconcilePending) return;
    this.#reconcilePending = true;
    this.#enqueue(async () => {
      this.#reconcilePending = false;
      if (generation !== this.#generation) return;
      await this.#applyToTunnel();
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
    if (!this.#privateKey || this.#addresses.length === 0) return;
    const tunnel = this.opts.tunnel;
    if (this.#tunnelAddresses && this.#tunnelAddresses.join() !== this.#addresses.join()) {
      await tunnel.down();
      this.#tunnelAddresses = null;
    }
    if (!this.#tunnelAddresses) {
      await tunnel.up({ privateKey: this.#privateKey, addresses: this.#addresses });
      this.#tunnelAddresses = [...this.#addresses];
      this.#appliedPeers.clear();
    }
    const plan = planTunnel(this.#details.values(), {
      protect: this.#portalAddresses.map((address) => ({ address, what: "the portal" })),
    });
    if (plan.allWarnings.join("\n") !== this.#loggedWarnings.join("\n")) {
      const before = new Set(this.#loggedWarnings);
      for (const w of plan.allWarnings.filter((x) => !before.has(x)))
        this.opts.logger.warn("route narrowed or refused", { warning: w });
      this.#loggedWarnings = plan.allWarnings;
      this.#warnings = plan.warnings;
      this.#emit("status");
    }
    const { changes, next } = peerChanges(this.#appliedPeers, plan.peers);
    if (changes.length > 0) {
      await tunnel.setPeers(changes, { replace: false });
      this.#appliedPeers = next;
    }
    await tunnel.setRoutes(plan.routes);
  }

  async #teardown(): Promise<void> {
    this.#generation++;
    this.#portal?.stop();
    this.#portal = null;
    this.#privateKey = null;
    this.#account = undefined;
    this.#actor = undefined;
    this.#addresses = [];
    this.#resources.clear();
    this.#details.clear();
    this.#portalAddresses = [];
    this.#warnings = [];
    this.#loggedWarnings = [];
    this.#emit("resources");
    await this.#enqueue(async () => {
      if (!this.#tunnelAddresses) return;
      this.#tunnelAddresses = null;
      await this.opts.tunnel.down();
    });
  }

  #setState(state: State): void {
    this.#state = state;
    this.#emit("status");
  }

  #emit(change: SessionChange): void {
    for (const l of this.#listeners) l(change);
  }
}

function toIpc(r: Resource): IpcResource {
  return {
    id: r.id,
    name: r.name,
    type: r.type,
    address: r.address,
    site: { id: r.site.id, name: r.site.name },
  };
}
