// The tray's Internet Resource checkboxes: when they show, what a click asks of the daemon, and
// how dbusmenu hosts are told they are checkboxes.
import { describe, expect, test } from "bun:test";
import {
  buildMenu,
  DbusMenu,
  initialView,
  type MenuAction,
  type MenuNode,
  type TrayView,
} from "../../lib/gui/index.ts";
import type { InternetResourceStatus, Status } from "../../lib/ipc/index.ts";
import { sampleStatus } from "../_support/status.ts";

const ir = (patch: Partial<InternetResourceStatus>): InternetResourceStatus => ({
  enabled: false,
  allowLan: false,
  available: true,
  active: false,
  ...patch,
});
const status = (patch: Partial<Status>): Status => sampleStatus({ resourceCount: 1, actor: "Ann", ...patch });
const view = (s: Partial<Status>): TrayView => ({ ...initialView, link: "up", status: status(s) });
const find = (menu: MenuNode[], label: string) => menu.find((n) => n.label === label);
const ROUTE_ALL = "Route all traffic through Firezone";
const ALLOW_LAN = "Allow local network access";

describe("tray: the Internet Resource", () => {
  test("offered and off: one unticked checkbox that switches it on", () => {
    const menu = buildMenu(view({ internetResource: ir({}) }));
    const item = find(menu, ROUTE_ALL)!;
    expect(item).toMatchObject({
      enabled: true,
      checked: false,
      action: { kind: "internet_resource", enabled: true },
    });
    expect(find(menu, ALLOW_LAN)).toBeUndefined();
  });

  test("on: ticked, with the allow-LAN checkbox that flips only allow-LAN", () => {
    const menu = buildMenu(view({ internetResource: ir({ enabled: true, active: true }) }));
    expect(find(menu, ROUTE_ALL)).toMatchObject({
      checked: true,
      action: { kind: "internet_resource", enabled: false },
    });
    expect(find(menu, ALLOW_LAN)).toMatchObject({
      checked: false,
      action: { kind: "internet_resource", allowLan: true },
    });
  });

  test("not offered: hidden while off; shown while on, so it can always be switched off", () => {
    expect(find(buildMenu(view({ internetResource: ir({ available: false }) })), ROUTE_ALL)).toBeUndefined();
    const menu = buildMenu(view({ internetResource: ir({ available: false, enabled: true }) }));
    expect(find(menu, ROUTE_ALL)?.checked).toBe(true);
    expect(find(menu, "Not offered by your account now")?.enabled).toBe(false);
  });

  test("kept while reconnecting; not shown when signed out; greyed out in service mode", () => {
    expect(
      find(buildMenu(view({ state: "reconnecting", internetResource: ir({}) })), ROUTE_ALL),
    ).toBeDefined();
    expect(
      find(buildMenu(view({ state: "signed_out", internetResource: ir({}) })), ROUTE_ALL),
    ).toBeUndefined();
    const service = buildMenu(view({ mode: "service", internetResource: ir({ enabled: true }) }));
    expect(find(service, ROUTE_ALL)?.enabled).toBe(false);
    expect(find(service, ALLOW_LAN)?.enabled).toBe(false);
  });

  test("dbusmenu marks them as checkmarks with their state, and a click reaches the app's action", () => {
    const clicked: MenuAction[] = [];
    const menu = new DbusMenu((a) => clicked.push(a));
    menu.setMenu(buildMenu(view({ internetResource: ir({ enabled: true }) })));
    const [, layout] = menu.GetLayout(0, -1, []);
    const items = layout[2].map(
      (variant) => variant.value as [number, Record<string, { value: unknown }>, unknown[]],
    );
    const byLabel = (label: string) => items.find(([, props]) => props.label?.value === label);
    const route = byLabel(ROUTE_ALL)!;
    expect(route[1]["toggle-type"]?.value).toBe("checkmark");
    expect(route[1]["toggle-state"]?.value).toBe(1);
    expect(byLabel(ALLOW_LAN)![1]["toggle-state"]?.value).toBe(0);
    expect(byLabel("About Firezone")![1]["toggle-type"]).toBeUndefined();
    menu.Event(route[0], "clicked", null, 0);
    expect(clicked).toEqual([{ kind: "internet_resource", enabled: false }]);
  });
});
