// The daemon object: holds the session and serves the IPC handlers of the protocol table.
import {
  type Authorizer,
  type CallContext,
  type DaemonEvent,
  type Handlers,
  IpcServer,
  PROTOCOL_VERSION,
  type Status,
} from "../ipc/index.ts";
import { FzError, VERSION } from "../types/index.ts";
import type { Logger } from "../util/index.ts";
import type { AuditSink } from "./audit.ts";
import { type DiagnosticsDeps, diagnosticHandlers } from "./diagnostic_handlers.ts";
import type { ConfigControl } from "./reload.ts";
import { ResourcePages } from "./resource_pages.ts";
import type { Session } from "./session.ts";
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

  constructor(private readonly opts: DaemonOptions) {
    this.now = opts.now ?? (() => Date.now());
    this.startedAt = this.now();
    this.server = new IpcServer({
      socketPath: opts.socketPath,
      handlers: this.handlers(),
      authorize: opts.authorize,
      daemonVersion: VERSION,
      logger: opts.logger.child("ipc"),
      audit: opts.audit,
    });
    this.pages = new ResourcePages(() => opts.session.resources(), this.now);
    opts.session.onChange((event) => {
      if (event === "status") this.publish("status");
      else this.resourcesTimer ??= setTimeout(() => this.publish("resources"), RESOURCES_EVENT_DELAY_MS);
    });
  }

  status(): Status {
    return {
      ...this.opts.session.snapshot(),
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
    if (this.opts.serviceMode && ctx.peer.role !== "admin") {
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
        await this.opts.session.signIn(params.token, {
          accountSlug: params.accountSlug,
          actorName: params.actorName,
        });
        return this.status();
      },
      sign_out: async (_params, ctx) => {
        this.checkMayOperate(ctx);
        await this.opts.session.signOut(`signed out by ${ctx.peer.user}`);
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
    };
  }
}
