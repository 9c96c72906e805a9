// The tray of a desktop user who is not the session's owner: who the session is for, why their
// programs may not use it, and no Sign Out (the daemon would refuse it: tests/e2e/scope.test.ts).
import { describe, expect, test } from "bun:test";
import { buildMenu, initialView, type MenuNode, type TrayView, tooltip } from "../../lib/gui/index.ts";
import type { Status } from "../../lib/ipc/index.ts";

const status = (patch: Partial<Status>): Status => ({
  state: "connected",
  mode: "interactive",
  daemonVersion: "0.1.0",
  protocol: 3,
  pid: 1,
  uptimeSeconds: 1,
  resourceCount: 1,
  actor: "alice@acme",
  owner: { uid: 1000, user: "alice" },
  scope: "user",
  internetResource: { enabled: false, allowLan: false, available: true, active: false },
  ...patch,
});
const view = (uid: number | null, patch: Partial<Status> = {}): TrayView => ({
  ...initialView,
  link: "up",
  uid,
  status: status(patch),
  resources: [{ id: "w", name: "web", type: "ip", address: "172.31.0.10" }],
});
const labels = (nodes: MenuNode[]) => nodes.map((n) => (n.separator ? "---" : n.label));
const find = (nodes: MenuNode[], label: string) => nodes.find((n) => n.label.startsWith(label));

describe("the tray of another desktop user", () => {
  test("shows 'signed in as <actor> for <user>', why, and no Sign Out", () => {
    const menu = buildMenu(view(1001));
    expect(labels(menu)[0]).toBe("Signed in as alice@acme for alice");
    expect(labels(menu)[1]).toBe(
      "alice's session: only alice's programs may use it; only alice or root can sign out",
    );
    expect(menu.some((n) => n.action?.kind === "sign_out")).toBe(false);
    expect(tooltip(view(1001)).title).toBe("Firezone: Signed in as alice@acme for alice");
  });

  test("the Internet Resource switch is shown greyed out: it is the owner's", () => {
    const item = find(buildMenu(view(1001)), "Route all traffic")!;
    expect(item.enabled).toBe(false);
  });

  test("while reconnecting there is no Sign Out either", () => {
    const menu = buildMenu(view(1001, { state: "reconnecting" }));
    expect(labels(menu)[0]).toBe("Signed in as alice@acme for alice");
    expect(menu.some((n) => n.action?.kind === "sign_out")).toBe(false);
  });

  test("a session of scope system says any program may use it", () => {
    expect(labels(buildMenu(view(1001, { scope: "system" })))[1]).toContain("any program may use it");
  });

  test("the owner's own tray is unchanged: 'Signed in as <actor>' and Sign Out", () => {
    const menu = buildMenu(view(1000));
    expect(labels(menu).slice(0, 2)).toEqual(["Signed in as alice@acme", "Sign Out"]);
    expect(find(menu, "Route all traffic")!.enabled).toBe(true);
  });
});
