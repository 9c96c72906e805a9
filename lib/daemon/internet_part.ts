// The Internet Resource's share of one tunnel reconcile: its connection details are kept out of the
// resources' plan (whose routes are never wider than /8), and turned into allowed IPs on its
// gateway's peer and the routes of its own table (planInternet), only while it is in force.
import type { ConnectionDetails } from "../portal/index.ts";
import { parseEndpoint } from "../util/index.ts";
import { type InternetPlan, planInternet } from "./internet_plan.ts";
import type { InternetResourcePrefs } from "./settings.ts";
import type { TunnelPeer } from "./tunnel_control.ts";

const KEEPALIVE_SECONDS = 25;

export interface InternetPartInput {
  prefs: InternetResourcePrefs;
  /** The id of the resource of type `internet` the portal offers, if any. */
  internetId: string | undefined;
  details: Iterable<ConnectionDetails>;
  /** The portal's addresses: they keep their direct path. */
  portalAddresses: readonly string[];
}

export interface InternetPart {
  /** Every other resource's details, for planTunnel. */
  others: ConnectionDetails[];
  plan: InternetPlan;
  /** Adds the Internet Resource's allowed IPs to its gateway's peer (made if no resource uses it yet). */
  addPeer(peers: Map<string, TunnelPeer>): void;
}

function endpointAddress(endpoint: string): string | null {
  try {
    const ep = parseEndpoint(String(endpoint));
    return ep.family === 4
      ? String(endpoint).replace(/:\d+$/, "")
      : String(endpoint).slice(1, String(endpoint).lastIndexOf("]"));
  } catch {
    return null;
  }
}

export function internetPart(input: InternetPartInput): InternetPart {
  const all = [...input.details];
  const mine = input.internetId ? all.find((d) => d.resource_id === input.internetId) : undefined;
  const others = all.filter((d) => d !== mine);
  const endpoints = all
    .map((d) => endpointAddress(d.gateway_endpoint))
    .filter((a): a is string => a !== null);
  const plan = planInternet({
    enabled: input.prefs.enabled,
    allowLan: input.prefs.allowLan,
    available: input.internetId !== undefined,
    protect: [...input.portalAddresses, ...endpoints],
  });
  return {
    others,
    plan,
    addPeer(peers) {
      if (!plan.active || !mine) return;
      const peer = peers.get(mine.gateway_public_key) ?? {
        publicKey: mine.gateway_public_key,
        allowedIps: [],
        persistentKeepalive: KEEPALIVE_SECONDS,
        replaceAllowedIps: true,
      };
      peer.endpoint = mine.gateway_endpoint;
      peer.allowedIps = [...new Set([...peer.allowedIps, ...mine.allowed_ips.map(String)])];
      peers.set(mine.gateway_public_key, peer);
    },
  };
}
