// The WireGuard cross-platform UAPI text protocol (wireguard.com/xplatform): WgDevice to `set=1`
// lines and `get=1` replies back to a WgDevice. Keys travel in hex there, base64 everywhere else.
import { keyFromHex, keyToHex, parseEndpointValue, parseIpPrefix, publicKeyOf } from "../util/index.ts";
import type { WgDevice, WgPeer } from "./model.ts";

const ZERO_KEY_HEX = "0".repeat(64);

/** A non-negative integer below `max`, or an Error: numbers are rendered by code, never passed through. */
function uint(name: string, value: number, max: number): string {
  if (!Number.isInteger(value) || value < 0 || value > max)
    throw new Error(`UAPI ${name} out of range: ${value}`);
  return String(value);
}

/**
 * The `set=1` request for a change, ending with the blank line that submits it. Every value is
 * rendered by code from a parsed value (keys to hex, endpoints and prefixes re-parsed and printed
 * canonically, numbers range-checked), and a last check refuses any line with a second `=` or a
 * newline, so no input can add a line such as `private_key=` to the request.
 */
export function encodeUapiSet(change: WgDevice): string {
  const lines = ["set=1"];
  if (change.privateKey !== undefined) lines.push(`private_key=${keyToHex(change.privateKey)}`);
  if (change.listenPort !== undefined)
    lines.push(`listen_port=${uint("listen_port", change.listenPort, 65535)}`);
  if (change.fwmark !== undefined) lines.push(`fwmark=${uint("fwmark", change.fwmark, 0xffffffff)}`);
  if (change.replacePeers) lines.push("replace_peers=true");
  for (const p of change.peers ?? []) {
    lines.push(`public_key=${keyToHex(p.publicKey)}`);
    if (p.remove) {
      lines.push("remove=true");
      continue;
    }
    if (p.updateOnly) lines.push("update_only=true");
    if (p.presharedKey !== undefined)
      lines.push(`preshared_key=${p.presharedKey === null ? ZERO_KEY_HEX : keyToHex(p.presharedKey)}`);
    if (p.endpoint !== undefined) lines.push(`endpoint=${parseEndpointValue(p.endpoint)}`);
    if (p.persistentKeepalive !== undefined)
      lines.push(`persistent_keepalive_interval=${uint("keepalive", p.persistentKeepalive, 65535)}`);
    if (p.replaceAllowedIps) lines.push("replace_allowed_ips=true");
    for (const ip of p.allowedIps ?? []) lines.push(`allowed_ip=${parseIpPrefix(withLength(ip))}`);
  }
  for (const line of lines) {
    if (!/^[a-z_]+=[^=\n\r\0]+$/.test(line))
      throw new Error(`refusing a malformed UAPI line: ${JSON.stringify(line)}`);
  }
  return `${lines.join("\n")}\n\n`;
}

/** A bare address is a host prefix, as wireguard-tools reads `AllowedIPs = 10.0.0.1`. */
function withLength(ip: string): string {
  return ip.includes("/") ? ip : `${ip}/${ip.includes(":") ? 128 : 32}`;
}

export const UAPI_GET = "get=1\n\n";

/** The errno a UAPI reply ends with (0 = success). */
export function uapiErrno(reply: string): number {
  const m = /(?:^|\n)errno=(-?\d+)\n/.exec(reply);
  if (!m) throw new Error(`malformed UAPI reply: ${JSON.stringify(reply.slice(0, 200))}`);
  return Number(m[1]);
}

/** Parses a `get=1` reply. */
export function decodeUapiGet(reply: string): WgDevice {
  const device: WgDevice = { peers: [] };
  let peer: WgPeer | null = null;
  let sec = 0;
  for (const line of reply.split("\n")) {
    const eq = line.indexOf("=");
    if (eq < 0) continue;
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (key === "public_key") {
      peer = { publicKey: keyFromHex(value), allowedIps: [] };
      device.peers!.push(peer);
      continue;
    }
    if (!peer) {
      if (key === "private_key") {
        device.privateKey = keyFromHex(value);
        device.publicKey = publicKeyOf(device.privateKey);
      } else if (key === "listen_port") device.listenPort = Number(value);
      else if (key === "fwmark") device.fwmark = Number(value);
      continue;
    }
    switch (key) {
      case "preshared_key":
        peer.presharedKey = value === ZERO_KEY_HEX ? null : keyFromHex(value);
        break;
      case "endpoint":
        peer.endpoint = value;
        break;
      case "persistent_keepalive_interval":
        peer.persistentKeepalive = Number(value);
        break;
      case "allowed_ip":
        peer.allowedIps!.push(value);
        break;
      case "last_handshake_time_sec":
        sec = Number(value);
        break;
      case "last_handshake_time_nsec":
        peer.lastHandshakeMs = sec * 1000 + Math.floor(Number(value) / 1e6);
        break;
      case "rx_bytes":
        peer.rxBytes = Number(value);
        break;
      case "tx_bytes":
        peer.txBytes = Number(value);
        break;
      case "protocol_version":
        peer.protocolVersion = Number(value);
        break;
    }
  }
  return device;
}
