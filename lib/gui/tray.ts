// The tray icon on the session bus: exports the StatusNotifierItem and its dbusmenu, registers with
// the StatusNotifierWatcher, and registers again whenever a watcher (re)appears.
import type { Logger } from "../util/index.ts";
import { type MessageBus, NameFlag, RequestNameReply } from "./_dbus.ts";
import { DbusMenu, MENU_PATH } from "./dbusmenu.ts";
import { iconPixmaps } from "./icons.ts";
import { buildMenu, type MenuAction } from "./menu.ts";
import { ITEM_PATH, StatusNotifierItem } from "./status_notifier_item.ts";
import { type TrayView, tooltip, trayState } from "./tray_view.ts";

export const WATCHER_NAME = "org.kde.StatusNotifierWatcher";
const WATCHER_PATH = "/StatusNotifierWatcher";

export interface TrayOptions {
  bus: MessageBus;
  logger: Logger;
  onAction: (action: MenuAction) => void;
  /** Called once, the first time no watcher is found. */
  onNoWatcher?: () => void;
}

export class Tray {
  readonly busName = `org.kde.StatusNotifierItem-${process.pid}-1`;
  private readonly item = new StatusNotifierItem();
  private readonly menu: DbusMenu;
  private lastMenu = "";
  private warnedNoWatcher = false;
  private registered = false;

  private constructor(private readonly opts: TrayOptions) {
    this.menu = new DbusMenu(opts.onAction);
  }

  /** Exports the item and tries to register it; a missing watcher is not an error. */
  static async start(opts: TrayOptions): Promise<Tray> {
    const tray = new Tray(opts);
    const { bus } = opts;
    bus.export(ITEM_PATH, tray.item);
    bus.export(MENU_PATH, tray.menu);
    const reply = await bus.requestName(tray.busName, NameFlag.DO_NOT_QUEUE);
    if (reply !== RequestNameReply.PRIMARY_OWNER)
      throw new Error(`cannot own ${tray.busName} on the session bus`);
    const daemon = (await bus.getProxyObject("org.freedesktop.DBus", "/org/freedesktop/DBus")).getInterface(
      "org.freedesktop.DBus",
    );
    daemon.on("NameOwnerChanged", (name: string, _old: string, owner: string) => {
      if (name !== WATCHER_NAME) return;
      tray.registered = false;
      if (owner) void tray.register();
    });
    await tray.register();
    return tray;
  }

  get isRegistered(): boolean {
    return this.registered;
  }

  private async register(): Promise<void> {
    try {
      const watcher = (await this.opts.bus.getProxyObject(WATCHER_NAME, WATCHER_PATH)).getInterface(
        WATCHER_NAME,
      );
      await watcher.RegisterStatusNotifierItem!(this.busName);
      this.registered = true;
      this.opts.logger.info("tray icon registered", { item: this.busName });
    } catch (err) {
      if (this.warnedNoWatcher) return;
      this.warnedNoWatcher = true;
      this.opts.logger.warn(
        "no system tray (StatusNotifierWatcher) on the session bus; the icon appears as soon as one starts. " +
          "On GNOME, enable the AppIndicator extension.",
        { error: (err as Error).message },
      );
      this.opts.onNoWatcher?.();
    }
  }

  /** Shows a new view: icon, tooltip and, when it changed, the menu. */
  update(view: TrayView): void {
    const state = trayState(view);
    const tip = tooltip(view);
    this.item.set({
      pixmaps: iconPixmaps(state),
      tooltipTitle: tip.title,
      tooltipBody: tip.body,
      attention: state === "error",
    });
    const nodes = buildMenu(view);
    const key = JSON.stringify(nodes);
    if (key !== this.lastMenu) {
      this.lastMenu = key;
      this.menu.setMenu(nodes);
    }
  }

  close(): void {
    try {
      this.opts.bus.unexport(ITEM_PATH, this.item);
      this.opts.bus.unexport(MENU_PATH, this.menu);
    } catch {}
  }
}
