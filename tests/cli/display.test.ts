// Text from the portal reaches people escaped: firezonectl's tables and the tray's labels, tooltip
// and notifications show control and bidi characters as visible escapes, never raw.
import { describe, expect, test } from "bun:test";
import { formatResources, formatStatus } from "../../lib/cli/index.ts";
import { buildMenu, initialView, MAX_MENU_RESOURCES, type MenuNode, tooltip } from "../../lib/gui/index.ts";
import { type IpcResource, PROTOCOL_VERSION, type Status } from "../../lib/ipc/index.ts";

/** Raw C0 (but newline, which the formats use themselves), DEL, C1, bidi overrides and isolates. */
const RAW = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
const EVIL = "wiki\x1b[2J\x1b]0;pwned\x07\u009b\u202etxt.exe";

const status: Status = {
  state: "connected",
  mode: "interactive",
  daemonVersion: "0.1.0",
  protocol: PROTOCOL_VERSION,
  pid: 1,
  uptimeSeconds: 5,
  resourceCount: 1,
  account: `acme${EVIL}`,
  actor: `alice${EVIL}`,
  addresses: ["100.64.0.3/32"],
  lastError: `lost the portal connection (${EVIL})`,
  warnings: [`Resource "${EVIL}" was skipped`],
};
const resource: IpcResource = {
  id: `id${EVIL}`,
  name: EVIL,
  type: "ip",
  address: `10.0.0.1${EVIL}`,
  site: { id: "s", name: `hq${EVIL}` },
};
const labels = (nodes: MenuNode[]): string[] =>
  nodes.flatMap((n) => [
    n.label,
    ...(n.action?.kind === "copy" ? [n.action.text] : []),
    ...labels(n.children ?? []),
  ]);

describe("display of portal text", () => {
  test("firezonectl status and resources escape every control and bidi character", () => {
    const out = formatStatus(status) + formatResources([resource]);
    expect(RAW.test(out)).toBe(false);
    expect(out).toContain("wiki\\x1b[2J\\x1b]0;pwned\\x07\\x9b\\u202etxt.exe");
    expect(out).toContain("Warning:");
  });

  test("the tray's labels, copied texts and tooltip are escaped too", () => {
    const view = { ...initialView, link: "up" as const, status, resources: [resource] };
    const texts = labels(buildMenu(view));
    expect(texts.some((t) => t.includes("wiki\\x1b[2J"))).toBe(true);
    for (const t of texts) expect(RAW.test(t)).toBe(false);
    const tip = tooltip(view);
    expect(RAW.test(tip.title + tip.body)).toBe(false);
  });

  test("the menu lists at most MAX_MENU_RESOURCES resources and counts the rest", () => {
    const many = Array.from({ length: MAX_MENU_RESOURCES + 7 }, (_, i) => ({ ...resource, name: `r${i}` }));
    const view = { ...initialView, link: "up" as const, status, resources: many };
    const top = buildMenu(view).map((n) => n.label);
    expect(top.filter((l) => /^r\d+$/.test(l))).toHaveLength(MAX_MENU_RESOURCES);
    expect(top).toContain("... and 7 more (firezonectl resources lists all)");
  });
});
