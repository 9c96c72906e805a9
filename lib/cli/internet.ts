// `firezonectl internet-resource [status|on|off]`: the full-tunnel switch and its allow-LAN option.
import { defineCommand } from "citty";
import type { InternetResourceStatus, Status } from "../ipc/index.ts";
import { UsageError } from "./exit_codes.ts";
import { io, printJson, request } from "./io.ts";

const ACTIONS = ["status", "on", "off"] as const;
type Action = (typeof ACTIONS)[number];

/** What the switch does now, in one line a person can act on. */
function headline(ir: InternetResourceStatus, state: Status["state"] | undefined): string {
  if (!ir.enabled) return "off: only traffic to your resources goes through the tunnel";
  if (state === "signed_out") return "on, but signed out: nothing goes through the tunnel until you sign in";
  if (!ir.available)
    return "on, but your account offers no Internet Resource now: traffic goes direct. Ask your administrator for access.";
  if (!ir.active) return "on, waiting for the tunnel: traffic waits in the tunnel, it is not sent direct";
  return "on: all traffic goes through the tunnel";
}

export function formatInternetResource(ir: InternetResourceStatus, state?: Status["state"]): string {
  const lines = [`Internet Resource ${headline(ir, state)}`];
  const field = (name: string, value: string) => lines.push(`  ${`${name}:`.padEnd(11)} ${value}`);
  field(
    "Allow LAN",
    ir.allowLan ? "yes (the local network stays direct)" : "no (LAN traffic goes through the tunnel too)",
  );
  field("Offered", ir.available ? "yes" : "no");
  return `${lines.join("\n")}\n`;
}

export const internetCommand = defineCommand({
  meta: {
    name: "internet-resource",
    description: "Show or switch the Internet Resource (all traffic through the tunnel)",
  },
  args: {
    action: { type: "positional", required: false, description: "status (default), on or off" },
    "allow-lan": {
      type: "boolean",
      description: "With on/off: keep the local network direct (--no-allow-lan: tunnel it too)",
    },
    json: { type: "boolean", description: "Print JSON" },
  },
  run: async ({ args }) => {
    const action = (args.action ?? "status") as string;
    if (!(ACTIONS as readonly string[]).includes(action))
      throw new UsageError(`'internet-resource' takes status, on or off, not '${action}'`);
    const allowLan = args["allow-lan"] as boolean | undefined;
    if ((action as Action) === "status") {
      if (allowLan !== undefined)
        throw new UsageError("--allow-lan goes with on or off: firezonectl internet-resource on --allow-lan");
      const st = await request("status", {});
      const ir = st.internetResource;
      if (!ir) throw new UsageError("this firezoned does not know the Internet Resource; update it");
      if (args.json) printJson(ir);
      else io().out(formatInternetResource(ir, st.state));
      return;
    }
    const ir = await request("set_internet_resource", {
      enabled: action === "on",
      ...(allowLan !== undefined ? { allowLan } : {}),
    });
    if (args.json) printJson(ir);
    else io().out(formatInternetResource(ir, (await request("status", {})).state));
  },
});
