// A stand-in resource: an HTTP server that says who it is and who asked (the source address it saw).
//   bun devstack/resource.ts --listen 172.31.0.10:80 [--name web]
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: { listen: { type: "string", default: "0.0.0.0:8000" }, name: { type: "string", default: "web" } },
});
const listen = values.listen ?? "0.0.0.0:8000";
const cut = listen.lastIndexOf(":");
const server = Bun.serve({
  hostname: listen.slice(0, cut).replace(/^\[|\]$/g, ""),
  port: Number(listen.slice(cut + 1)),
  fetch(req, srv) {
    const from = srv.requestIP(req)?.address ?? "unknown";
    return new Response(`hello from ${values.name} (you came from ${from})\n`);
  },
});
console.log(`listening http://${server.hostname}:${server.port}`);
process.on("SIGTERM", () => process.exit(0));
