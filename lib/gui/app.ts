// The running firezone-gui: folds daemon events, deep links and menu clicks into one TrayView and
// acts on them. Everything it touches (bus, keyring, browser, clipboard) comes in through options.
import type { DaemonClient, IpcResource, Status } from "../ipc/index.ts";
import { FzError, VERSION } from "../types/index.ts";
import type { Logger } from "../util/index.ts";
import type { MessageBus } from "./_dbus.ts";
import { BrowserSignIn } from "./browser_sign_in.ts";
import { type CopyResult, copyToClipboard } from "./clipboard.ts";
import { DaemonLink, type LinkEvent } from "./daemon_link.ts";
import { type ExportResult, exportLogs } from "./export_logs.ts";
import type { InstanceMessage, InstanceReply } from "./instance.ts";
import type { MenuAction } from "./menu.ts";
import { type Notification, Notifier } from "./notifier.ts";
import type { Problem } from "./problem.ts";
import type { GuiSettings } from "./settings.ts";
import { statusNotice } from "./status_notice.ts";
import type { TokenStore } from "./token_store.ts";
import { Tray } from "./tray.ts";
import { initialView, type TrayView } from "./tray_view.ts";

export interface AppOptions {
  settings: GuiSettings;
  env: Record<string, string | undefined>;
  logger: Logger;
  bus: MessageBus;
  tokens: TokenStore;
  /** Opens the sign-in redirect page (a file:// URL, never the URL with the nonce); defaults to xdg-open. */
  openUrl?: (url: string) => Promise<void>;
  /** How long the redirect page stays once the browser was started; the page holds the nonce. */
  redirectPageMs?: number;
  /** How long a browser sign-in may take; SIGN_IN_TTL_MS (10 minutes) unless a test says otherwise. */
  signInTtlMs?: number;
  copy?: (text: string) => Promise<CopyResult>;
  onQuit: () => void;
  /** "Export Logs"; runs firezonectl debug bundle unless a test says otherwise. */
  exportLogs?: () => Promise<ExportResult>;
  /** The uid the tray runs as, to tell its own session from another user's; default the process's. */
  uid?: number;
}

export class App {
  private view: TrayView;
  private tray: Tray | null = null;
  private readonly notifier: Notifier;
  private readonly signIn: BrowserSignIn;
  private readonly link: DaemonLink;
  private userSignedOut = false;

  constructor(private readonly opts: AppOptions) {
    this.view = {
      ...initialView,
      accountConfigured: opts.settings.account !== null,
      uid: opts.uid ?? process.getuid?.() ?? null,
    };
    this.notifier = new Notifier(opts.bus, opts.logger.child("notify"));
    this.signIn = new BrowserSignIn({
      runtimeDir: opts.settings.runtimeDir,
      env: opts.env,
      logger: opts.logger,
      ...(opts.openUrl ? { openUrl: opts.openUrl } : {}),
      ...(opts.redirectPageMs !== undefined ? { redirectPageMs: opts.redirectPageMs } : {}),
      ...(opts.signInTtlMs !== undefined ? { signInTtlMs: opts.signInTtlMs } : {}),
      notify: (n) => this.notify(n),
      onSigningIn: (signingIn) => this.setView({ signingIn }),
    });
    this.link = new DaemonLink({
      socketPath: opts.settings.daemonSocket,
      logger: opts.logger.child("daemon"),
      handlers: {
        up: (client, status, resources) => this.linkUp(client, status, resources),
        event: (event) => this.daemonEvent(event),
        down: (problem) => this.linkDown(problem),
      },
    });
  }

  async start(): Promise<void> {
    this.tray = await Tray.start({
      bus: this.opts.bus,
      logger: this.opts.logger.child("tray"),
      onAction: (action) => void this.act(action),
      onNoWatcher: () =>
        this.notify({
          summary: "Firezone is running without a tray icon",
          body: "This desktop has no system tray (StatusNotifierWatcher). On GNOME, enable the AppIndicator extension.",
        }),
    });
    this.render();
    this.link.start();
  }

  stop(): void {
    this.signIn.end();
    this.link.stop();
    this.tray?.close();
  }

  private setView(patch: Partial<TrayView>): void {
    this.view = { ...this.view, ...patch };
    this.render();
  }

  private render(): void {
    this.tray?.update(this.view);
  }

  private notify(n: Notification): void {
    void this.notifier.notify(n);
  }

  private linkUp(client: DaemonClient, status: Status, resources: IpcResource[]): void {
    const wasDown = this.view.link === "down";
    this.setView({ link: "up", problem: null, status, resources });
    if (wasDown)
      this.notify({
        summary: "Firezone daemon is back",
        body: "Connected to firezoned again.",
        topic: "daemon",
      });
    if (status.state === "signed_out" && status.mode === "interactive") void this.signInFromKeyring(client);
  }

  private linkDown(problem: Problem): void {
    const wasUp = this.view.link === "up";
    this.setView({ link: "down", problem, status: null, resources: [] });
    if (wasUp)
      this.notify({
        summary: "Firezone disconnected",
        body: problem.title,
        topic: "daemon",
        urgency: "critical",
      });
  }

  private daemonEvent(event: LinkEvent): void {
    if (event.kind === "status") {
      const notice = statusNotice(this.view.status, event.status, {
        userSignedOut: this.userSignedOut,
        resourceCount: event.status.resourceCount,
      });
      // Kept until the daemon says signed_out: a status still "connected" from work in flight when
      // Sign Out was clicked must not turn "You signed out." into "The session ended.".
      if (event.status.state === "signed_out") this.userSignedOut = false;
      this.setView({
        status: event.status,
        resources: event.status.state === "signed_out" ? [] : this.view.resources,
      });
      if (notice) this.notify(notice);
    } else if (event.kind === "resources") {
      this.setView({ resources: event.resources });
    }
  }

  /** At login (and whenever the daemon comes back signed out): reuse the token kept in the keyring. */
  private async signInFromKeyring(client: DaemonClient): Promise<void> {
    let token: string | null;
    try {
      token = await this.opts.tokens.load();
    } catch (err) {
      this.opts.logger.warn((err as Error).message);
      return;
    }
    if (!token) return;
    this.opts.logger.info("signing the daemon in with the token from the keyring");
    const account = this.opts.settings.account;
    await this.sendToken(client, token, account ? { accountSlug: account } : {});
  }

  private async sendToken(
    client: DaemonClient,
    token: string,
    hints: { accountSlug?: string; actorName?: string },
  ) {
    try {
      await client.call("sign_in", { token, ...hints });
    } catch (err) {
      const e = err instanceof FzError ? err : new FzError("internal", String(err));
      this.opts.logger.warn("sign-in failed", { code: e.code, reason: e.message });
      if (e.code === "invalid_token") await this.opts.tokens.remove().catch(() => false);
      this.notify({ summary: "Sign-in failed", body: e.message, topic: "session", urgency: "critical" });
    }
  }

  /** Messages from `firezone-gui open-deep-link` (the link on its stdin) and from second launches. */
  async handleInstanceMessage(message: InstanceMessage): Promise<InstanceReply> {
    if (message.type === "activate") return { ok: true };
    return this.handleDeepLink(message.url);
  }

  /** A deep link from D-Bus (org.freedesktop.Application.Open) or the instance socket. */
  handleDeepLink(url: string): InstanceReply {
    const result = this.signIn.complete(url);
    if (!result.ok) {
      this.opts.logger.warn("ignored a deep link", { reason: result.reason });
      if ("expired" in result && result.expired)
        this.notify({ summary: "Sign-in expired", body: `${result.reason}.`, topic: "session" });
      return { ok: false, error: `deep link ignored: ${result.reason}` };
    }
    void this.finishSignIn(result.token, { accountSlug: result.accountSlug, actorName: result.actorName });
    return { ok: true };
  }

  private async finishSignIn(
    token: string,
    hints: { accountSlug: string; actorName: string },
  ): Promise<void> {
    try {
      await this.opts.tokens.save(token);
    } catch (err) {
      this.notify({
        summary: "Sign-in will not be remembered",
        body: (err as Error).message,
        topic: "keyring",
      });
    }
    const client = this.link.client;
    if (!client) {
      const why = this.view.problem?.title ?? "the Firezone daemon is not reachable";
      this.notify({
        summary: "Sign-in failed",
        body: `${why}. Firezone signs in when it is back.`,
        topic: "session",
      });
      return;
    }
    await this.sendToken(client, token, hints);
  }

  async act(action: MenuAction): Promise<void> {
    const { settings, logger } = this.opts;
    switch (action.kind) {
      case "sign_in": {
        if (!settings.account) {
          this.notify({
            summary: "No Firezone account configured",
            body: `Set "accountSlug" in ${settings.configFile} (or FIREZONE_ACCOUNT), then sign in again.`,
          });
          return;
        }
        // The user's own setting first, else the portal the daemon is configured with (root's
        // choice, already checked by the daemon against allow_insecure_portal).
        const authUrl = settings.authUrl ?? this.view.status?.portalUrl ?? null;
        if (!authUrl) {
          this.notify({
            summary: "No Firezone portal configured",
            body:
              this.view.status?.state === "not_configured"
                ? (this.view.status.lastError ?? "firezoned has no portal URL; ask your administrator.")
                : `Set "authUrl" in ${settings.configFile} (or FIREZONE_AUTH_URL), or ask your administrator to set portal_url in /etc/firezoned/firezoned.conf.`,
          });
          return;
        }
        await this.signIn.start(authUrl, settings.account);
        return;
      }
      case "cancel_sign_in":
        this.signIn.cancel();
        return;
      case "sign_out": {
        this.userSignedOut = true;
        await this.opts.tokens.remove().catch((err: Error) => logger.warn(err.message));
        try {
          await this.link.client?.call("sign_out", {});
        } catch (err) {
          this.userSignedOut = false;
          this.notify({ summary: "Sign-out failed", body: (err as Error).message, topic: "session" });
        }
        return;
      }
      case "copy": {
        const result = await (this.opts.copy ?? ((t) => copyToClipboard(t, this.opts.env, logger)))(
          action.text,
        );
        this.notify(
          result.ok
            ? { summary: `Copied ${action.what}`, body: action.text, topic: "copy", urgency: "low" }
            : {
                summary: `Could not copy the ${action.what}`,
                body: `${result.reason}. It is: ${action.text}`,
                topic: "copy",
              },
        );
        return;
      }
      case "internet_resource": {
        const { enabled, allowLan } = action;
        try {
          await this.link.client?.call("set_internet_resource", {
            ...(enabled !== undefined ? { enabled } : {}),
            ...(allowLan !== undefined ? { allowLan } : {}),
          });
        } catch (err) {
          this.notify({
            summary: "Could not switch the Internet Resource",
            body: (err as Error).message,
            topic: "session",
          });
        }
        return;
      }
      case "retry":
        this.link.retryNow();
        return;
      case "export_logs": {
        const result = await (
          this.opts.exportLogs ?? (() => exportLogs(this.opts.env, settings.daemonSocket))
        )();
        if (result.ok) logger.info("exported logs", { path: result.path });
        else logger.warn("could not export logs", { reason: result.reason });
        this.notify(
          result.ok
            ? {
                summary: "Logs exported",
                body: `Saved to ${result.path}. Tokens and keys are left out; look inside before you share it.`,
                topic: "export",
              }
            : { summary: "Could not export logs", body: result.reason, topic: "export" },
        );
        return;
      }
      case "about": {
        const d = this.link.client?.hello;
        const daemon = d
          ? `firezoned ${d.daemonVersion} (pid ${d.pid}, you are ${d.tier ?? "unknown"})`
          : "firezoned not connected";
        this.notify({
          summary: `Firezone ${VERSION}`,
          body: `firezone-gui ${VERSION}\n${daemon}`,
          topic: "about",
        });
        return;
      }
      case "quit":
        this.opts.onQuit();
        return;
    }
  }
}
