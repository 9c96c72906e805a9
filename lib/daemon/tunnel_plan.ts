// From the portal's connection details to the tunnel's configuration: one WireGuard peer per
// gateway, the union of its resources' allowed IPs, and a route for each; and the smallest change
// that brings the device from what was applied last to that plan.
import type { ConnectionDetails } from "../portal/index.ts";
import type { TunnelPeer } from "./tunnel_control.ts";

export interface TunnelPlan {
  peers: Map<string, TunnelPeer>;
  routes: string[];
}

/** What was applied last: public key -> a fingerprint of the peer's endpoint and allowed IPs. */
export type AppliedPeers = Map<string, string>;

const KEEPALIVE_SECONDS = 25;

export function planTunnel(details: Iterable<ConnectionDetails>): TunnelPlan {
  const peers = new Map<string, TunnelPeer>();
  // One set per peer for the whole pass: copying the list per resource was quadratic (20,000
  // resources behind one gateway took minutes).
  const ipsOf = new Map<string, Set<string>>();
  const routes = new Set<string>();
  for (const d of details) {
    let peer = peers.get(d.gateway_public_key);
    let ips = ipsOf.get(d.gateway_public_key);
    if (!peer || !ips) {
      peer = {
        publicKey: d.gateway_public_key,
        allowedIps: [],
        persistentKeepalive: KEEPALIVE_SECONDS,
        replaceAllowedIps: true,
      };
      ips = new Set();
      peers.set(d.gateway_public_key, peer);
      ipsOf.set(d.gateway_public_key, ips);
    }
    peer.endpoint = d.gateway_endpoint;
    for (const ip of d.allowed_ips) {
      ips.add(ip);
      routes.add(ip);
    }
  }
  for (const [key, peer] of peers) peer.allowedIps = [...ipsOf.get(key)!];
  return { peers, routes: [...routes] };
}

function fingerprint(p: TunnelPeer): string {
  return JSON.stringify([p.endpoint, [...p.allowedIps].sort()]);
}

/**
 * Only peers that are new or changed, plus removals. Sending the whole set with "replace peers"
 * would drop every established WireGuard session and stall traffic until the next handshake.
 */
export function peerChanges(
  applied: AppliedPeers,
  peers: Map<string, TunnelPeer>,
): { changes: TunnelPeer[]; next: AppliedPeers } {
  const changes: TunnelPeer[] = [];
  const next: AppliedPeers = new Map();
  for (const [key, peer] of peers) {
    const f = fingerprint(peer);
    next.set(key, f);
    if (applied.get(key) !== f) changes.push(peer);
  }
  for (const key of applied.keys()) {
    if (!peers.has(key)) changes.push({ publicKey: key, allowedIps: [], remove: true });
  }
  return { changes, next };
}
