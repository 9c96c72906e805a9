// The tray menu's D-Bus side on its own: a click that crosses a menu rebuild (the daemon's answer
// replaced the menu between the host's read and the user's click) acts only when it still means what
// the user saw.
import { describe, expect, test } from "bun:test";
import { DbusMenu, type MenuAction, type MenuNode } from "../../lib/gui/index.ts";

type Item = [number, Record<string, { value: unknown }>, unknown[]];

function items(menu: DbusMenu): Item[] {
  const [, layout] = menu.GetLayout(0, -1, []);
  return layout[2].map((variant) => variant.value as Item);
}

function idOf(menu: DbusMenu, label: string): number {
  const found = items(menu).find(([, props]) => props.label?.value === label);
  if (!found) throw new Error(`no item ${label}`);
  return found[0];
}

const signingIn: MenuNode[] = [
  { label: "Cancel sign-in", enabled: true, action: { kind: "cancel_sign_in" } },
  { label: "Quit Firezone", enabled: true, action: { kind: "quit" } },
];
const signedIn: MenuNode[] = [
  { label: "Sign Out", enabled: true, action: { kind: "sign_out" } },
  { label: "Quit Firezone", enabled: true, action: { kind: "quit" } },
];

describe("DbusMenu clicks across a rebuild", () => {
  test("a click on the current layout acts", () => {
    const clicked: MenuAction[] = [];
    const menu = new DbusMenu((a) => clicked.push(a));
    menu.setMenu(signedIn);
    menu.Event(idOf(menu, "Quit Firezone"), "clicked", null, 0);
    expect(clicked).toEqual([{ kind: "quit" }]);
  });

  test("Quit picked from the menu just replaced still quits", () => {
    const clicked: MenuAction[] = [];
    const menu = new DbusMenu((a) => clicked.push(a));
    menu.setMenu(signingIn);
    const quit = idOf(menu, "Quit Firezone");
    menu.setMenu(signedIn);
    expect(idOf(menu, "Quit Firezone")).not.toBe(quit);
    menu.Event(quit, "clicked", null, 0);
    expect(menu.EventGroup([[quit, "clicked", null, 0]])).toEqual([]);
    expect(clicked).toEqual([{ kind: "quit" }, { kind: "quit" }]);
  });

  test("an action the new menu no longer offers is dropped", () => {
    const clicked: MenuAction[] = [];
    const menu = new DbusMenu((a) => clicked.push(a));
    menu.setMenu(signingIn);
    const cancel = idOf(menu, "Cancel sign-in");
    menu.setMenu(signedIn);
    menu.Event(cancel, "clicked", null, 0);
    expect(clicked).toEqual([]);
  });

  test("an action offered again but disabled is dropped", () => {
    const clicked: MenuAction[] = [];
    const menu = new DbusMenu((a) => clicked.push(a));
    menu.setMenu(signedIn);
    const signOut = idOf(menu, "Sign Out");
    menu.setMenu([{ label: "Sign Out", enabled: false, action: { kind: "sign_out" } }]);
    menu.Event(signOut, "clicked", null, 0);
    expect(clicked).toEqual([]);
  });

  test("ids older than the previous layout are unknown to EventGroup", () => {
    const menu = new DbusMenu(() => {});
    menu.setMenu(signingIn);
    const old = idOf(menu, "Quit Firezone");
    menu.setMenu(signedIn);
    menu.setMenu(signingIn);
    expect(menu.EventGroup([[old, "clicked", null, 0]])).toEqual([old]);
  });
});
