import { defineCommand } from "citty";
import type { IpcResource } from "../ipc/index.ts";
import { displayText } from "../util/index.ts";
import { io, printJson, withDaemon } from "./io.ts";

/** A plain table, like `nmcli connection show`. Portal-supplied cells are escaped for the terminal. */
export function formatResources(resources: IpcResource[]): string {
  if (resources.length === 0) return "No resources. Sign in, or ask your administrator for access.\n";
  const rows = [
    ["NAME", "ADDRESS", "TYPE", "SITE", "GATEWAY", "ID"],
    ...resources.map((r) =>
      [r.name, r.address, r.type, r.site?.name ?? "-", r.gatewayStatus ?? "unknown", r.id].map((cell) =>
        displayText(cell, 256),
      ),
    ),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return `${rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  ")).join("\n")}\n`;
}

export const resourcesCommand = defineCommand({
  meta: { name: "resources", description: "List the resources this account may reach" },
  args: { json: { type: "boolean", description: "Print JSON" } },
  run: async ({ args }) => {
    // Read in pages (docs/ipc.md): a list of any length, each frame under the cap.
    const { version, resources } = await withDaemon((client) => client.allResources());
    if (args.json) printJson({ version, resources });
    else io().out(formatResources(resources));
  },
});
