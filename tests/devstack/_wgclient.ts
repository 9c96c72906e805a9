// A hand-built client for the gateway tests, run inside the client namespace: lib/portal for the
// session, and wireguard-go + wg + ip for the tunnel (configured by hand, independently of the
// daemon). It prints one JSON line per step on stdout.
//
//   FIREZONE_TOKEN=... bun tests/devstack/_wgclient.ts --portal ws://10.77.1.1:8080 --iface wgt
//       [--extra-allowed 172.31.0.0/24]   also route this range to the gateway, as a client that
//                                         tries to reach what no policy gave it
//       [--route-only 203.0.113.0/24]     route only these into the tunnel, not the allowed IPs (an
//                                         Internet Resource's 0.0.0.0/0 would take the portal and
//                                         the gateway's own UDP with it)
import { parseArgs } from "node:util";
import { generateWgKeyPair } from "../../devstack/shared/wgkey.ts";
import { type ConnectionDetails, PortalClient } from "../../lib/portal/index.ts";
import { createLogger } from "../../lib/util/index.ts";

const { values } = parseArgs({
  options: {
    portal: { type: "string" },
    iface: { type: "string", default: "wgt" },
    "extra-allowed": { type: "string", multiple: true },
    "route-only": { type: "string", multiple: true },
  },
});
const iface = values.iface ?? "wgt";
const extra = values["extra-allowed"] ?? [];
const say = (x: Record<string, unknown>) => console.log(JSON.stringify(x));

async function run(cmd: string[], stdin?: string): Promise<void> {
  const p = Bun.spawn(cmd, {
    stdin: stdin ? new TextEncoder().encode(stdin) : "ignore",
    stdout: "ignore",
    stderr: "pipe",
  });
  const [err, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new Error(`${cmd.join(" ")}: ${err.trim()}`);
}

const keys = generateWgKeyPair();
const wgGo = Bun.spawn(["wireguard-go", "-f", iface], {
  stdin: "ignore",
  stdout: "ignore",
  stderr: "inherit",
});
for (let i = 0; i < 100; i++) {
  if (await Bun.file(`/var/run/wireguard/${iface}.sock`).exists()) break;
  await Bun.sleep(20);
}
await run(["wg", "set", iface, "private-key", "/dev/stdin"], keys.privateKey);
await run(["ip", "link", "set", iface, "mtu", "1280", "up"]);

// Per gateway: the union of the allowed IPs of the resources routed through it.
const byGateway = new Map<string, { endpoint: string; cidrs: Map<string, string[]> }>();
const gatewayKeys = new Map<string, string>();
async function applyDetails(d: ConnectionDetails): Promise<void> {
  // A restarted gateway comes back with a new key: its old peer goes.
  const oldKey = gatewayKeys.get(d.gateway_id);
  if (oldKey && oldKey !== d.gateway_public_key) {
    await run(["wg", "set", iface, "peer", oldKey, "remove"]);
    const old = byGateway.get(oldKey);
    byGateway.delete(oldKey);
    if (old) byGateway.set(d.gateway_public_key, old);
  }
  gatewayKeys.set(d.gateway_id, d.gateway_public_key);
  const gw = byGateway.get(d.gateway_public_key) ?? { endpoint: d.gateway_endpoint, cidrs: new Map() };
  gw.endpoint = d.gateway_endpoint;
  gw.cidrs.set(d.resource_id, d.allowed_ips);
  byGateway.set(d.gateway_public_key, gw);
  const allowed = [...new Set([...[...gw.cidrs.values()].flat(), ...extra])];
  await run([
    "wg",
    "set",
    iface,
    "peer",
    d.gateway_public_key,
    "endpoint",
    gw.endpoint,
    "allowed-ips",
    allowed.join(","),
  ]);
  for (const c of values["route-only"] ?? allowed) await run(["ip", "route", "replace", c, "dev", iface]);
  say({ event: "connection_details", resource_id: d.resource_id, allowed });
}

const portal = new PortalClient({
  url: values.portal ?? "ws://127.0.0.1:8080",
  // A devstack test client: its portal is the plaintext devstack one.
  allowInsecure: true,
  token: process.env.FIREZONE_TOKEN ?? "",
  publicKey: keys.publicKey,
  deviceId: `wgclient-${crypto.randomUUID()}`,
  logger: createLogger({ name: "wgclient", level: "warn" }),
  backoff: { initialMs: 100, maxMs: 1000 },
});
delete process.env.FIREZONE_TOKEN;
let addressed = false;
const connect = (id: string) =>
  portal
    .requestConnection(id)
    .catch((e: unknown) => say({ event: "request_failed", resource_id: id, error: String(e) }));
portal.on("init", async (init) => {
  if (!init.interface.ok) throw new Error(`refused interface: ${init.interface.reason}`);
  const { ipv4, ipv6 } = init.interface.value;
  if (!addressed) {
    await run(["ip", "addr", "add", `${ipv4}/32`, "dev", iface]);
    await run(["ip", "-6", "addr", "add", `${ipv6}/128`, "dev", iface]);
    addressed = true;
  }
  const resources = init.resources.flatMap((e) => (e.ok ? [e.resource] : []));
  say({ event: "init", ipv4, resources: resources.map((r) => r.name) });
  for (const r of resources) await connect(r.id);
});
portal.on("resource_created_or_updated", (e) => {
  if (!e.ok) return;
  say({ event: "resource", name: e.resource.name });
  void connect(e.resource.id);
});
portal.on("resource_deleted", ({ id }) => say({ event: "resource_deleted", id }));
portal.on("connection_details", (d) => void applyDetails(d));
portal.on("signed_out", ({ reason }) => say({ event: "signed_out", reason }));
portal.on("disconnected", ({ reason }) => say({ event: "disconnected", reason }));
portal.start();

const stop = () => {
  portal.stop();
  wgGo.kill();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
