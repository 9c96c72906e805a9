// org.kde.StatusNotifierItem, the tray icon itself: hosts read its icon, tooltip and menu path as
// properties and are told of changes by the New* signals.
import { Interface } from "./_dbus.ts";
import { MENU_PATH } from "./dbusmenu.ts";
import type { Pixmap } from "./icons.ts";

export const ITEM_PATH = "/StatusNotifierItem";
export const ITEM_INTERFACE = "org.kde.StatusNotifierItem";

type ToolTip = [iconName: string, icon: Pixmap[], title: string, body: string];

export class StatusNotifierItem extends Interface {
  private title = "Firezone";
  private status = "Active";
  private pixmaps: Pixmap[] = [];
  private tip: ToolTip = ["", [], "Firezone", ""];

  constructor() {
    super(ITEM_INTERFACE);
  }

  /** Updates what changed and signals only that. */
  set(next: { pixmaps: Pixmap[]; tooltipTitle: string; tooltipBody: string; attention: boolean }): void {
    if (next.pixmaps !== this.pixmaps) {
      this.pixmaps = next.pixmaps;
      this.NewIcon();
    }
    if (next.tooltipTitle !== this.tip[2] || next.tooltipBody !== this.tip[3]) {
      this.tip = ["", [], next.tooltipTitle, next.tooltipBody];
      this.NewToolTip();
    }
    const status = next.attention ? "NeedsAttention" : "Active";
    if (status !== this.status) {
      this.status = status;
      this.NewStatus(status);
    }
  }

  get Category(): string {
    return "ApplicationStatus";
  }
  get Id(): string {
    return "firezone";
  }
  get Title(): string {
    return this.title;
  }
  get Status(): string {
    return this.status;
  }
  get WindowId(): number {
    return 0;
  }
  get IconName(): string {
    return "";
  }
  get IconThemePath(): string {
    return "";
  }
  get IconPixmap(): Pixmap[] {
    return this.pixmaps;
  }
  get OverlayIconName(): string {
    return "";
  }
  get OverlayIconPixmap(): Pixmap[] {
    return [];
  }
  get AttentionIconName(): string {
    return "";
  }
  get AttentionIconPixmap(): Pixmap[] {
    // Hosts that swap to the attention icon show the same picture: the state dot already says it.
    return this.pixmaps;
  }
  get AttentionMovieName(): string {
    return "";
  }
  get ToolTip(): ToolTip {
    return this.tip;
  }
  get ItemIsMenu(): boolean {
    return true;
  }
  get Menu(): string {
    return MENU_PATH;
  }

  // The menu is the whole interface: hosts that call these instead of opening it get nothing.
  ContextMenu(_x: number, _y: number): void {}
  Activate(_x: number, _y: number): void {}
  SecondaryActivate(_x: number, _y: number): void {}
  Scroll(_delta: number, _orientation: string): void {}

  NewTitle(): void {}
  NewIcon(): void {}
  NewAttentionIcon(): void {}
  NewOverlayIcon(): void {}
  NewToolTip(): void {}
  NewStatus(status: string): string {
    return status;
  }
}

StatusNotifierItem.configureMembers({
  properties: {
    Category: { signature: "s", access: "read" },
    Id: { signature: "s", access: "read" },
    Title: { signature: "s", access: "read" },
    Status: { signature: "s", access: "read" },
    WindowId: { signature: "i", access: "read" },
    IconName: { signature: "s", access: "read" },
    IconThemePath: { signature: "s", access: "read" },
    IconPixmap: { signature: "a(iiay)", access: "read" },
    OverlayIconName: { signature: "s", access: "read" },
    OverlayIconPixmap: { signature: "a(iiay)", access: "read" },
    AttentionIconName: { signature: "s", access: "read" },
    AttentionIconPixmap: { signature: "a(iiay)", access: "read" },
    AttentionMovieName: { signature: "s", access: "read" },
    ToolTip: { signature: "(sa(iiay)ss)", access: "read" },
    ItemIsMenu: { signature: "b", access: "read" },
    Menu: { signature: "o", access: "read" },
  },
  methods: {
    ContextMenu: { inSignature: "ii", outSignature: "" },
    Activate: { inSignature: "ii", outSignature: "" },
    SecondaryActivate: { inSignature: "ii", outSignature: "" },
    Scroll: { inSignature: "is", outSignature: "" },
  },
  signals: {
    NewTitle: { signature: "" },
    NewIcon: { signature: "" },
    NewAttentionIcon: { signature: "" },
    NewOverlayIcon: { signature: "" },
    NewToolTip: { signature: "" },
    NewStatus: { signature: "s" },
  },
});
