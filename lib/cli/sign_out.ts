import { defineCommand } from "citty";
import { io, printJson, request } from "./io.ts";
import { formatStatus } from "./status.ts";

export const signOutCommand = defineCommand({
  meta: { name: "sign-out", description: "Sign out and take the tunnel down" },
  args: { json: { type: "boolean", description: "Print the resulting status as JSON" } },
  run: async ({ args }) => {
    const st = await request("sign_out", {});
    if (args.json) printJson(st);
    else io().out(formatStatus(st));
  },
});
