// com.canonical.dbusmenu, the menu protocol StatusNotifierItem hosts read: the menu is a tree of
// integer ids with property maps; hosts call GetLayout and report clicks with Event.
import { DBusError, Interface, Variant } from "./_dbus.ts";
import type { MenuAction, MenuNode } from "./menu.ts";

export const MENU_PATH = "/MenuBar";

type Props = Record<string, Variant>;
type Layout = [number, Props, Variant[]];

interface Entry {
  node: MenuNode | null;
  children: number[];
}

/** In dbusmenu labels an underscore marks a mnemonic; a literal one is written twice. */
function escapeLabel(label: string): string {
  return label.replaceAll("_", "__");
}

function propsOf(node: MenuNode | null, hasChildren: boolean): Props {
  const props: Props = {};
  if (node === null) {
    props["children-display"] = new Variant("s", "submenu");
    return props;
  }
  if (node.separator) {
    props.type = new Variant("s", "separator");
    return props;
  }
  props.label = new Variant("s", escapeLabel(node.label));
  props.enabled = new Variant("b", node.enabled);
  props.visible = new Variant("b", true);
  if (node.checked !== undefined) {
    props["toggle-type"] = new Variant("s", "checkmark");
    props["toggle-state"] = new Variant("i", node.checked ? 1 : 0);
  }
  if (hasChildren) props["children-display"] = new Variant("s", "submenu");
  return props;
}

function filter(props: Props, names: string[]): Props {
  if (names.length === 0) return props;
  return Object.fromEntries(Object.entries(props).filter(([k]) => names.includes(k)));
}

export class DbusMenu extends Interface {
  private revision = 0;
  // Ids are never reused: hosts (libdbusmenu) keep an item's properties by id across layouts and
  // expect ItemsPropertiesUpdated for changes, so a rebuilt menu gets fresh ids instead.
  private nextId = 1;
  private entries = new Map<number, Entry>([[0, { node: null, children: [] }]]);
  // The layout before the current one. A click can cross a rebuild (the user, or a host, picked an
  // item of the menu it showed while the daemon's answer replaced it): such a click still acts when
  // the current menu offers the same action, enabled; otherwise it is dropped, as it no longer means
  // what the user saw.
  private previous = new Map<number, Entry>();

  constructor(private readonly onAction: (action: MenuAction) => void) {
    super("com.canonical.dbusmenu");
  }

  /** Replaces the whole menu and tells hosts to fetch it again. */
  setMenu(nodes: MenuNode[]): void {
    const entries = new Map<number, Entry>();
    const add = (list: MenuNode[]): number[] =>
      list.map((node) => {
        const id = this.nextId++;
        const entry: Entry = { node, children: [] };
        entries.set(id, entry);
        entry.children = add(node.children ?? []);
        return id;
      });
    entries.set(0, { node: null, children: add(nodes) });
    this.previous = this.entries;
    this.entries = entries;
    this.revision++;
    this.LayoutUpdated(this.revision, 0);
  }

  private layout(id: number, depth: number, names: string[]): Layout {
    const entry = this.entries.get(id);
    if (!entry) throw new DBusError("com.canonical.dbusmenu.Error.UnknownId", `no menu item ${id}`);
    const children =
      depth === 0
        ? []
        : entry.children.map(
            (c) => new Variant("(ia{sv}av)", this.layout(c, depth < 0 ? -1 : depth - 1, names)),
          );
    return [id, filter(propsOf(entry.node, entry.children.length > 0), names), children];
  }

  get Version(): number {
    return 3;
  }
  get TextDirection(): string {
    return "ltr";
  }
  get Status(): string {
    return "normal";
  }
  get IconThemePath(): string[] {
    return [];
  }

  GetLayout(parentId: number, recursionDepth: number, propertyNames: string[]): [number, Layout] {
    return [this.revision, this.layout(parentId, recursionDepth, propertyNames)];
  }

  GetGroupProperties(ids: number[], propertyNames: string[]): Array<[number, Props]> {
    const wanted = ids.length ? ids : [...this.entries.keys()];
    return wanted.flatMap((id) => {
      const e = this.entries.get(id);
      return e
        ? [[id, filter(propsOf(e.node, e.children.length > 0), propertyNames)] as [number, Props]]
        : [];
    });
  }

  GetProperty(id: number, name: string): Variant {
    const e = this.entries.get(id);
    const value = e ? propsOf(e.node, e.children.length > 0)[name] : undefined;
    if (!value)
      throw new DBusError("com.canonical.dbusmenu.Error.UnknownProperty", `no property ${name} on ${id}`);
    return value;
  }

  Event(id: number, eventId: string, _data: unknown, _timestamp: number): void {
    if (eventId !== "clicked") return;
    const current = this.entries.get(id)?.node;
    const stale = current ? null : this.previous.get(id)?.node;
    const node = current ?? (stale?.action ? this.offered(stale.action) : null);
    if (node?.enabled && node.action) this.onAction(node.action);
  }

  /** The current menu's item with this very action, if it still offers one. */
  private offered(action: MenuAction): MenuNode | null {
    const same = JSON.stringify(action);
    for (const { node } of this.entries.values())
      if (node?.action && JSON.stringify(node.action) === same) return node;
    return null;
  }

  EventGroup(events: Array<[number, string, unknown, number]>): number[] {
    const errors: number[] = [];
    for (const [id, eventId, data, ts] of events) {
      if (this.entries.has(id) || this.previous.has(id)) this.Event(id, eventId, data, ts);
      else errors.push(id);
    }
    return errors;
  }

  AboutToShow(_id: number): boolean {
    return false;
  }

  AboutToShowGroup(ids: number[]): [number[], number[]] {
    return [[], ids.filter((id) => !this.entries.has(id))];
  }

  LayoutUpdated(revision: number, parent: number): [number, number] {
    return [revision, parent];
  }

  ItemsPropertiesUpdated(): [unknown[], unknown[]] {
    return [[], []];
  }

  ItemActivationRequested(id: number, timestamp: number): [number, number] {
    return [id, timestamp];
  }
}

DbusMenu.configureMembers({
  properties: {
    Version: { signature: "u", access: "read" },
    TextDirection: { signature: "s", access: "read" },
    Status: { signature: "s", access: "read" },
    IconThemePath: { signature: "as", access: "read" },
  },
  methods: {
    GetLayout: { inSignature: "iias", outSignature: "u(ia{sv}av)" },
    GetGroupProperties: { inSignature: "aias", outSignature: "a(ia{sv})" },
    GetProperty: { inSignature: "is", outSignature: "v" },
    Event: { inSignature: "isvu", outSignature: "" },
    EventGroup: { inSignature: "a(isvu)", outSignature: "ai" },
    AboutToShow: { inSignature: "i", outSignature: "b" },
    AboutToShowGroup: { inSignature: "ai", outSignature: "aiai" },
  },
  signals: {
    LayoutUpdated: { signature: "ui" },
    ItemsPropertiesUpdated: { signature: "a(ia{sv})a(ias)" },
    ItemActivationRequested: { signature: "iu" },
  },
});
