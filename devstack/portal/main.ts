// Runs the devstack portal: `bun devstack/portal/main.ts --db portal.sqlite [--listen 127.0.0.1:8080]`.
// Prints `listening <url>` on stdout once ready, and stops cleanly on SIGINT/SIGTERM.
import { parseArgs } from "node:util";
import { createLogger } from "../../lib/util/index.ts";
import { startPortal } from "./server.ts";

const { values } = parseArgs({
  options: {
    db: { type: "string" },
    listen: { type: "string", default: "127.0.0.1:8080" },
    "idle-timeout-ms": { type: "string" },
    "log-level": { type: "string", default: "info" },
  },
});
const db = values.db ?? process.env.FIREZONE_PORTAL_DB;
if (!db) {
  console.error(
    "usage: bun devstack/portal/main.ts --db FILE [--listen HOST:PORT] (or FIREZONE_PORTAL_DB=FILE)",
  );
  process.exit(64);
}
const listen = values.listen ?? "127.0.0.1:8080";
const cut = listen.lastIndexOf(":");
const hostname = listen.slice(0, cut).replace(/^\[|\]$/g, "");
const port = Number(listen.slice(cut + 1));
const level = values["log-level"] as "debug" | "info" | "warn" | "error";
const portal = startPortal({
  dbPath: db,
  hostname,
  port,
  logger: createLogger({ name: "portal", level }),
  ...(values["idle-timeout-ms"] ? { idleTimeoutMs: Number(values["idle-timeout-ms"]) } : {}),
});
console.log(`listening ${portal.url}`);
const stop = async () => {
  await portal.stop();
  process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
