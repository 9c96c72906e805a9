// DNS resources where people look for them: `firezonectl resources` and the tray list them with
// their name pattern as the address, escaped like any text from the portal. (The end-to-end test,
// tests/e2e/dns.test.ts, checks that the daemon hands the pattern through IPC.)
import { describe, expect, test } from "bun:test";
import { formatResources } from "../../lib/cli/resources.ts";
import { buildMenu, initialView, type MenuNode } from "../../lib/gui/index.ts";
import type { IpcResource } from "../../lib/ipc/index.ts";
import { sampleStatus } from "../_support/status.ts";

const resources: IpcResource[] = [
  { id: "r1", name: "GitLab", type: "dns", address: "gitlab.corp.example", site: { id: "s", name: "HQ" } },
  { id: "r2", name: "Internal", type: "dns", address: "**.internal.example", gatewayStatus: "online" },
  { id: "r3", name: "Hosts", type: "dns", address: "app-?.corp.example" },
  { id: "r4", name: "Db", type: "ip", address: "10.0.0.5" },
];

describe("DNS resources in listings", () => {
  test("firezonectl resources shows each with its pattern and type dns", () => {
    const lines = formatResources(resources).split("\n");
    expect(lines[0]).toMatch(/^NAME\s+ADDRESS\s+TYPE\s+SITE/);
    expect(lines.find((l) => l.startsWith("GitLab"))).toMatch(/^GitLab\s+gitlab\.corp\.example\s+dns\s+HQ\s/);
    expect(lines.find((l) => l.startsWith("Internal"))).toMatch(
      /^Internal\s+\*\*\.internal\.example\s+dns\s+-\s+online/,
    );
    expect(lines.find((l) => l.startsWith("Hosts"))).toMatch(/^Hosts\s+app-\?\.corp\.example\s+dns\s/);
  });

  test("the tray lists each under its name, with the pattern shown and copyable", () => {
    const menu = buildMenu({
      ...initialView,
      link: "up",
      resources,
      status: sampleStatus({ resourceCount: resources.length }),
    });
    const all: MenuNode[] = [];
    const walk = (nodes: MenuNode[]) => {
      for (const n of nodes) {
        all.push(n);
        if (n.children) walk(n.children);
      }
    };
    walk(menu);
    const internal = all.find((n) => n.label === "Internal");
    expect(internal?.children?.[0]).toMatchObject({ label: "**.internal.example", enabled: false });
    expect(internal?.children?.find((c) => c.label === "Copy address")?.action).toEqual({
      kind: "copy",
      what: "address",
      text: "**.internal.example",
    });
    expect(all.find((n) => n.label === "GitLab")?.children?.[0]?.label).toBe("gitlab.corp.example");
  });
});
