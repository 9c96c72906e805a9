// A stand-in resource: an HTTP server that says who it is and who asked (the source address it saw).
//   bun devstack/resource.ts --listen [::]:80 [--name web]      (dual-stack; or 172.31.0.10:80)
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
    // A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d.
    const from = (srv.requestIP(req)?.address ?? "unknown").replace(/^::ffff:(?=\d+\.)/, "");
    return new Response(`hello from ${values.name} (you came from ${from})\n`);
  },
});
console.log(`listening http://${server.hostname}:${server.port}`);
process.on("SIGTERM", () => process.exit(0));
