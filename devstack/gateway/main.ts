// Runs a devstack gateway inside its network namespace (the caller creates it and uses `ip netns exec`):
//
//   FIREZONE_GATEWAY_TOKEN=... bun devstack/gateway/main.ts --portal ws://10.77.2.1:8080 \
//       --endpoint 10.77.2.2:51820 [--listen-port 51820] [--state-dir DIR [--persistent-key]] [--interface tun-fzgw]
//       [--dns-server IP]...
//
// DNS resources' names are resolved through --dns-server (repeatable), else the nameservers of the
// namespace's /etc/resolv.conf (`ip netns exec` binds /etc/netns/<ns>/resolv.conf there).
// The token comes from FIREZONE_GATEWAY_TOKEN (removed from the environment once read) or
// --token-file. Prints `ready ...` on stdout each time the portal's configuration is in force.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
// The modules themselves, not lib/dns/index.ts: the index loads the D-Bus client (dbus-next).
import type { Upstream } from "../../lib/dns/forwarder.ts";
import { nameserversOf } from "../../lib/dns/resolv_conf.ts";
import { createLogger, formatIp, parseIp } from "../../lib/util/index.ts";
import { GATEWAY_ROUTE_PROTOCOL, gatewayPolicy, Tunnel, type WgPeer } from "../../lib/wireguard/index.ts";
import { TUNNEL_IPV4_POOL, TUNNEL_IPV6_POOL } from "../shared/ip.ts";
import { generateWgKeyPair, wgPublicKey } from "../shared/wgkey.ts";
import { DnsNat, dnsResolver } from "./dns_nat.ts";
import { applyNft, enableForwarding, removeRuleset, renderRuleset } from "./firewall.ts";
import { Gateway, type GatewayFirewall, type GatewayTunnel } from "./gateway.ts";

const { values } = parseArgs({
  options: {
    portal: { type: "string" },
    endpoint: { type: "string" },
    "listen-port": { type: "string", default: "51820" },
    "state-dir": { type: "string" },
    "persistent-key": { type: "boolean", default: false },
    "token-file": { type: "string" },
    interface: { type: "string", default: "tun-fzgw" },
    name: { type: "string" },
    "log-level": { type: "string", default: "info" },
    "dns-server": { type: "string", multiple: true },
  },
});

function fail(message: string, code = 64): never {
  console.error(`gateway: ${message}`);
  process.exit(code);
}

const portalUrl = values.portal ?? process.env.FIREZONE_API_URL ?? fail("--portal URL is required");
const endpoint = values.endpoint ?? fail("--endpoint IP:PORT (where clients reach this gateway) is required");
const listenPort = Number(values["listen-port"]);
const ifname = values.interface ?? "tun-fzgw";
let token = process.env.FIREZONE_GATEWAY_TOKEN;
delete process.env.FIREZONE_GATEWAY_TOKEN;
if (!token && values["token-file"]) token = readFileSync(values["token-file"], "utf8").trim();
if (!token) fail("no token: set FIREZONE_GATEWAY_TOKEN or pass --token-file");

// The state dir keeps the gateway's id, so the portal knows a restarted gateway and keeps its flows.
// The WireGuard key is new on every start unless --persistent-key: clients then get the new key
// from the portal at once and handshake again on their next packet, instead of sending into the
// old session until WireGuard's own 15 s rekey timeout gives up on it.
function identity(): { privateKey: string; publicKey: string; externalId: string } {
  const dir = values["state-dir"];
  const fresh = generateWgKeyPair();
  if (!dir) return { ...fresh, externalId: `gateway-${crypto.randomUUID()}` };
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const idFile = join(dir, "external_id");
  if (!existsSync(idFile)) writeFileSync(idFile, `gateway-${crypto.randomUUID()}\n`);
  const externalId = readFileSync(idFile, "utf8").trim();
  if (!values["persistent-key"]) return { ...fresh, externalId };
  const keyFile = join(dir, "private.key");
  if (!existsSync(keyFile)) {
    writeFileSync(keyFile, `${fresh.privateKey}\n`, { mode: 0o600 });
    chmodSync(keyFile, 0o600);
  }
  const privateKey = readFileSync(keyFile, "utf8").trim();
  return { privateKey, publicKey: wgPublicKey(privateKey), externalId };
}

const logger = createLogger({
  name: "gateway",
  level: values["log-level"] as "debug" | "info" | "warn" | "error",
});
const id = identity();
// Its own mark, rule priority and route protocol, apart from the client's (docs/tunnel.md), so a
// client on the same host neither routes the gateway's UDP into its tunnel nor sweeps its routes.
const tunnel = new Tunnel({
  name: ifname,
  logger: logger.child("tunnel"),
  policy: gatewayPolicy(),
  routeProtocol: GATEWAY_ROUTE_PROTOCOL,
});
await tunnel.cleanupStale();
await enableForwarding();

let current = new Map<string, string>();
const gatewayTunnel: GatewayTunnel = {
  async up({ privateKey, listenPort, addresses }) {
    await tunnel.up({ privateKey, addresses, listenPort });
    // Replies to every client go into the tunnel; WireGuard picks the peer by allowed IPs.
    await tunnel.setRoutes([TUNNEL_IPV4_POOL, TUNNEL_IPV6_POOL]);
  },
  // Only changed peers are sent: replacing the whole set would drop every live WireGuard session and
  // leave clients waiting for a fresh handshake.
  async setPeers(peers) {
    const next = new Map(peers.map((p) => [p.publicKey, p.allowedIps.join(",")]));
    const changes: WgPeer[] = [];
    for (const key of current.keys()) if (!next.has(key)) changes.push({ publicKey: key, remove: true });
    for (const p of peers) {
      if (current.get(p.publicKey) !== next.get(p.publicKey)) {
        changes.push({ publicKey: p.publicKey, allowedIps: p.allowedIps, replaceAllowedIps: true });
      }
    }
    if (changes.length) await tunnel.setPeers(changes);
    current = next;
  },
  async down() {
    current = new Map();
    await tunnel.down();
  },
};
const firewall: GatewayFirewall = {
  apply: (rules) => applyNft(renderRuleset(ifname, rules)),
  remove: () => applyNft(removeRuleset()),
};

const dnsServers: Upstream[] = values["dns-server"]?.length
  ? values["dns-server"].map((text) => {
      const ip = parseIp(text);
      if (!ip) fail(`--dns-server ${text} is not an IP address`);
      return { address: formatIp(ip.bytes), port: 53 };
    })
  : nameserversOf(existsSync("/etc/resolv.conf") ? readFileSync("/etc/resolv.conf", "utf8") : "");
const resolver = dnsResolver(dnsServers);
const dnsNat = new DnsNat({
  resolve: resolver.resolve,
  onError: (message) => logger.warn("DNS resource", { problem: message }),
  onChange: () => gateway.dnsChanged(),
});

const gateway = new Gateway({
  portalUrl,
  token,
  externalId: id.externalId,
  ...(values.name ? { name: values.name } : {}),
  privateKey: id.privateKey,
  publicKey: id.publicKey,
  endpoint,
  listenPort,
  tunnel: gatewayTunnel,
  firewall,
  dnsNat,
  logger,
  onReady: (info) =>
    console.log(
      `ready site=${info.site} endpoint=${endpoint} public_key=${id.publicKey} clients=${info.clients}`,
    ),
  onFatal: (message) => {
    console.error(`gateway: ${message}`);
    void gateway.stop().finally(() => process.exit(1));
  },
});
gateway.start();

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await gateway.stop();
  process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
