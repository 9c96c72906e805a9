// DNS resources in the tunnel plan. A DNS resource's connection details name the gateway that
// serves it, but its addresses are the proxy addresses this client's stub handed out, which only
// the client knows: they become allowed IPs of that gateway's peer (so WireGuard sends each proxy
// address to the gateway that maps it, and drops one no gateway serves), and the two proxy ranges
// are routed into the device as a whole (one route each, however many names are asked for).
import type { ConnectionDetails } from "../portal/index.ts";
import type { TunnelPlan } from "./tunnel_plan.ts";

export function addDnsProxies(
  plan: TunnelPlan,
  details: Iterable<ConnectionDetails>,
  allowedIpsFor: (resourceId: string) => readonly string[],
  proxyRoutes: readonly string[],
): TunnelPlan {
  for (const d of details) {
    const extra = allowedIpsFor(d.resource_id);
    if (extra.length === 0) continue;
    const peer = plan.peers.get(d.gateway_public_key);
    if (!peer) continue;
    peer.allowedIps = [...new Set([...peer.allowedIps, ...extra])];
  }
  if (proxyRoutes.length > 0) plan.routes = [...new Set([...plan.routes, ...proxyRoutes])];
  return plan;
}
