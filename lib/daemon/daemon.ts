// The daemon object: holds the session and serves the IPC handlers of the protocol table.
import {
  type Authorizer,
  type CallContext,
  type DaemonEvent,
  type Handlers,
  IpcServer,
  PROTOCOL_VERSION,
  type SessionScope,
  type SessionView,
  type Status,
} from "../ipc/index.ts";
import { FzError, VERSION } from "../types/index.ts";
import type { Logger } from "../util/index.ts";
import type { AuditSink } from "./audit.ts";
import { type DiagnosticsDeps, diagnosticHandlers } from "./diagnostic_handlers.ts";
import type { ConfigControl } from "./reload.ts";
import { ResourcePages } from "./resource_pages.ts";
import type { ScopePolicy } from "./scope_rules.ts";
import type { Session } from "./session.ts";
import { type ScopeChoice, SessionOwnership } from "./session_owner.ts";
import type { SettingsStore } from "./settings.ts";

export interface DaemonOptions {
  socketPath: string;
  group: { name: string; gid: number };
  authorize: Authorizer;
  session: Session;
  /** Choices kept across restarts (the Internet Resource switch). */
  settings: SettingsStore;
  serviceMode: boolean;
  /** firezoned.conf: `settings get|set` (lib/daemon/reload.ts). */
  config: Pick<ConfigControl, "get" | "set">;
  logger: Logger;
  audit: AuditSink;
  /** The optional read-only group (status only), for refusals to name. */
  readGroup?: string | null;
  /** Puts a session's scope into the kernel (lib/daemon/scoped_tunnel.ts); absent: scope stays `system`. */
  scope?: { setPolicy(policy: ScopePolicy): Promise<void> };
  /** The scope of an interactive sign-in that names none (config key default_scope). */
  defaultScope?: Exclude<SessionScope, "app">;
  now?: () => number;
  /** For doctor, logs and the debug bundle; without it those methods answer `internal`. */
  diagnostics?: (daemon: Daemon) => DiagnosticsDeps;
}

const RESOURCES_EVENT_DELAY_MS = 50;

export class Daemon {
  readonly server: IpcServer;
  private readonly startedAt: number;
  private readonly now: () => number;
  private readonly pages: ResourcePages;
  /** A burst of resource changes (one per gateway answer at sign-in) becomes one event. */
  private resourcesTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly ownership: SessionOwnership;

  constructor(private readonly opts: DaemonOptions) {
    this.now = opts.now ?? (() => Date.now());
    this.startedAt = this.now();
    this.ownership = new SessionOwnership({
      serviceMode: opts.serviceMode,
      defaultScope: opts.defaultScope ?? "user",
      ...(opts.scope ? { tunnel: opts.scope } : {}),
    });
    this.server = new IpcServer({
      socketPath: opts.socketPath,
      handlers: this.handlers(),
      authorize: opts.authorize,
      daemonVersion: VERSION,
      logger: opts.logger.child("ipc"),
      audit: opts.audit,
      session: () => this.sessionView(),
      groups: { member: opts.group.name, reader: opts.readGroup ?? null },
    });
    this.pages = new ResourcePages(() => opts.session.resources(), this.now);
    opts.session.onChange((event) => {
      // A session that ended by itself (token revoked) has no owner any more.
      if (event === "status" && !this.active()) this.ownership.clear();
      if (event === "status") this.publish("status");
      else this.resourcesTimer ??= setTimeout(() => this.publish("resources"), RESOURCES_EVENT_DELAY_MS);
    });
  }

  /** The session as the tier table sees it. */
  sessionView(): SessionView {
    return { owner: this.ownership.owner, active: this.active(), serviceMode: this.opts.serviceMode };
  }

  private active(): boolean {
    const state = this.opts.session.snapshot().state;
    return state === "connecting" || state === "connected" || state === "reconnecting";
  }

  status(): Status {
    return {
      ...this.opts.session.snapshot(),
      ...this.ownership.status(),
      mode: this.opts.serviceMode ? "service" : "interactive",
      daemonVersion: VERSION,
      protocol: PROTOCOL_VERSION,
      pid: process.pid,
      uptimeSeconds: Math.floor((this.now() - this.startedAt) / 1000),
    };
  }

  /** Never throws: a failure to tell subscribers is logged and the session goes on. */
  private publish(event: "status" | "resources"): void {
    try {
      let payload: DaemonEvent;
      if (event === "status") payload = { kind: "status", status: this.status() };
      else {
        if (this.resourcesTimer) clearTimeout(this.resourcesTimer);
        this.resourcesTimer = null;
        const { version, list } = this.opts.session.resources();
        payload = { kind: "resources_changed", version, total: list.length };
      }
      this.server.broadcast(payload);
    } catch (err) {
      this.opts.logger.error("could not publish an event to subscribers", { event, error: err });
    }
  }

  /** In service mode only root may change the session, even when the service token is bad. */
  private checkMayOperate(ctx: CallContext, what = "sign-in and sign-out are"): void {
    if (this.opts.serviceMode && ctx.peer.tier !== "admin") {
      throw new FzError(
        "service_mode",
        `firezoned runs in service mode (a service-account token is configured), so ${what} ` +
          "managed by the administrator. Ask root to change /etc/firezoned/token or FIREZONE_TOKEN.",
      );
    }
  }

  private handlers(): Handlers {
    return {
      status: () => this.status(),
      version: () => ({ daemonVersion: VERSION, protocol: PROTOCOL_VERSION }),
      resources: (params) => this.pages.page(params),
      sign_in: async (params, ctx) => {
        this.checkMayOperate(ctx);
        // The kernel's rules for the new owner are in place before the tunnel can come up.
        const choice: ScopeChoice = params.scope
          ? params.scope === "app"
            ? { scope: "app", cgroup: params.cgroup ?? "" }
            : { scope: params.scope }
          : { scope: "default" };
        await this.ownership.take({ uid: ctx.peer.uid, user: ctx.peer.user }, choice);
        this.opts.logger.info("session owner", {
          user: ctx.peer.user,
          uid: ctx.peer.uid,
          ...this.ownership.status(),
        });
        await this.opts.session.signIn(params.token, {
          accountSlug: params.accountSlug,
          actorName: params.actorName,
        });
        return this.status();
      },
      sign_out: async (_params, ctx) => {
        this.checkMayOperate(ctx);
        await this.opts.session.signOut(`signed out by ${ctx.peer.user}`);
        await this.ownership.clear();
        // Every client learns of a sign-out request at once, even when the state did not change.
        this.publish("status");
        return this.status();
      },
      get_settings: (params) => this.opts.config.get(params.key),
      set_setting: async (params, ctx) => {
        const result = await this.opts.config.set(params.key, params.value);
        this.opts.logger.info("setting changed", { key: params.key, by: ctx.peer.user });
        return result;
      },
      set_internet_resource: async (params, ctx) => {
        this.checkMayOperate(ctx, "the Internet Resource switch is");
        // Saved first: a switch reported as made is one the daemon still has after a restart.
        const prefs = await this.opts.settings.setInternetResource(params);
        this.opts.logger.info("Internet Resource switched", { ...prefs, by: ctx.peer.user });
        await this.opts.session.setInternetResource(prefs);
        this.publish("status");
        const status = this.status().internetResource;
        if (!status) throw new FzError("internal", "the session did not report the Internet Resource");
        return status;
      },
      ...diagnosticHandlers(this.opts.diagnostics?.(this) ?? null),
      set_scope: async (params, ctx) => {
        this.checkMayOperate(ctx, "the session's scope is");
        if (!this.active() || !this.ownership.owner) {
          throw new FzError(
            "invalid_request",
            "there is no session to change; choose the scope when signing in (firezonectl sign-in --scope ...)",
          );
        }
        await this.ownership.change(
          params.scope === "app" ? { scope: "app", cgroup: params.cgroup ?? "" } : { scope: params.scope },
        );
        this.opts.logger.info("session scope changed", { by: ctx.peer.user, ...this.ownership.status() });
        this.publish("status");
        return this.status();
      },
    };
  }
}
