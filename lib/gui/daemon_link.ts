// Keeps one subscribed connection to firezoned: connects, subscribes, fetches status and resources,
// and when the daemon goes away reports why and reconnects with backoff (and at once when its
// socket directory changes), so fixing the problem is enough: no restart of the GUI.
import { type FSWatcher, watch } from "node:fs";
import { dirname } from "node:path";
import {
  type ClientOptions,
  connectDaemon,
  type DaemonClient,
  type DaemonEvent,
  type IpcResource,
  type Status,
} from "../ipc/index.ts";
import { FzError } from "../types/index.ts";
import type { Logger } from "../util/index.ts";
import { type Problem, problemFrom } from "./problem.ts";

/**
 * The daemon's events as the app sees them: `resources_changed` is followed here by a paged read,
 * and arrives as the whole list.
 */
export type LinkEvent =
  | Exclude<DaemonEvent, { kind: "resources_changed" }>
  | { kind: "resources"; resources: IpcResource[] };

export interface LinkHandlers {
  up(client: DaemonClient, status: Status, resources: IpcResource[]): void;
  event(event: LinkEvent): void;
  down(problem: Problem): void;
}

export interface DaemonLinkOptions {
  socketPath: string;
  logger: Logger;
  handlers: LinkHandlers;
  /** Default true: only a daemon running as root is trusted. */
  requireRootPeer?: boolean;
  connect?: (options: ClientOptions) => Promise<DaemonClient>;
  initialDelayMs?: number;
  maxDelayMs?: number;
}

function asFzError(err: unknown): FzError {
  return err instanceof FzError ? err : new FzError("internal", (err as Error).message ?? String(err));
}

export class DaemonLink {
  private current: DaemonClient | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private delay: number;
  private attempt: Promise<void> | null = null;
  private stopped = false;
  private lastProblem = "";
  private watcher: FSWatcher | null = null;
  /** The resource list version last handed to the app, and whether a read is running or owed. */
  private resourcesVersion = -1;
  private reading = false;
  private readAgain = false;

  constructor(private readonly opts: DaemonLinkOptions) {
    this.delay = opts.initialDelayMs ?? 250;
  }

  get client(): DaemonClient | null {
    return this.current;
  }

  start(): void {
    this.watchSocketDir();
    this.retryNow();
  }

  /** Connects now instead of waiting for the backoff timer. */
  retryNow(): void {
    if (this.stopped || this.current || this.attempt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.attempt = this.connectOnce().finally(() => {
      this.attempt = null;
    });
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.watcher?.close();
    this.current?.close();
    this.current = null;
  }

  private async connectOnce(): Promise<void> {
    const { logger, handlers } = this.opts;
    let client: DaemonClient | null = null;
    try {
      client = await (this.opts.connect ?? connectDaemon)({
        socketPath: this.opts.socketPath,
        requireRootPeer: this.opts.requireRootPeer ?? true,
        // sign_in may wait up to 10 s for the portal's first answer before it returns.
        timeoutMs: 20_000,
      });
      const c = client;
      c.onClose((reason) => this.lost(c, reason));
      await c.subscribe((event) => {
        if (this.current !== c) return;
        if (event.kind === "resources_changed") {
          if (event.version !== this.resourcesVersion) void this.readResources(c);
        } else handlers.event(event);
      });
      const status = await c.call("status", {});
      const { version, resources } = await c.allResources();
      this.resourcesVersion = version;
      if (this.stopped) return c.close();
      this.current = c;
      this.delay = this.opts.initialDelayMs ?? 250;
      this.lastProblem = "";
      logger.info("connected to firezoned", {
        pid: c.hello.pid,
        tier: c.hello.tier,
        version: c.hello.daemonVersion,
      });
      handlers.up(c, status, resources);
    } catch (err) {
      client?.close();
      this.fail(asFzError(err));
    }
  }

  /** One paged read at a time; changes during a read cause one more read after it. */
  private async readResources(c: DaemonClient): Promise<void> {
    if (this.reading) {
      this.readAgain = true;
      return;
    }
    this.reading = true;
    try {
      do {
        this.readAgain = false;
        const { version, resources } = await c.allResources();
        if (this.current !== c) return;
        if (version === this.resourcesVersion) continue;
        this.resourcesVersion = version;
        this.opts.handlers.event({ kind: "resources", resources });
      } while (this.readAgain);
    } catch (err) {
      // The connection is going away; `lost` reports it and the next connection reads afresh.
      this.opts.logger.debug("reading the resource list failed", { error: (err as Error).message });
    } finally {
      this.reading = false;
    }
  }

  private lost(client: DaemonClient, reason: FzError): void {
    if (this.current !== client) return;
    this.current = null;
    this.opts.logger.warn("lost the connection to firezoned", { reason: reason.message });
    this.fail(
      reason.code === "daemon_unreachable" ? reason : new FzError("daemon_unreachable", reason.message),
    );
  }

  private fail(err: FzError): void {
    if (this.stopped) return;
    const problem = problemFrom(err);
    // Log a problem once, not on every retry.
    if (problem.detail !== this.lastProblem) this.opts.logger.warn(problem.title, { detail: problem.detail });
    this.lastProblem = problem.detail;
    this.opts.handlers.down(problem);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.retryNow();
    }, this.delay);
    this.delay = Math.min(this.delay * 2, this.opts.maxDelayMs ?? 5000);
    if (!this.watcher) this.watchSocketDir();
  }

  /** A socket appearing in the daemon's directory is worth an immediate retry. */
  private watchSocketDir(): void {
    try {
      this.watcher = watch(dirname(this.opts.socketPath), () => {
        if (!this.current) setTimeout(() => this.retryNow(), 50);
      });
      this.watcher.on("error", () => {
        this.watcher?.close();
        this.watcher = null;
      });
    } catch {
      // The directory may not exist yet (no daemon since boot) or be closed to us: backoff covers it.
      this.watcher = null;
    }
  }
}
