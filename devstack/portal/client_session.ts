// One joined client device as the hub sees it: what it was last told (resources, interface,
// connection details), so each reconcile pushes only the difference.
import {
  type ConnectionDetailsWire,
  encodeFrame,
  type InitWire,
  type InterfaceWire,
} from "../../lib/portal/index.ts";
import type { Resource } from "../../lib/types/index.ts";
import { resourceCidrs } from "../shared/ip.ts";
import type { GatewaySession } from "./gateway_session.ts";
import type { Conn } from "./hub.ts";
import { type ActorRow, addressesOf, type GatewayRow, type Store } from "./store.ts";

export class ClientSession {
  /** Resource id -> the resource as last sent. */
  readonly resources = new Map<string, string>();
  iface = "";
  /** Resource id -> the connection details last sent. */
  readonly details = new Map<string, string>();
  /** Resources with a request_connection in flight: their details go in the reply, not a push. */
  readonly requested = new Set<string>();

  constructor(
    readonly conn: Conn,
    readonly clientId: string,
    readonly accountId: string,
    readonly actorId: string,
    readonly tokenId: string,
  ) {}

  /** Sends `init` (interface, resources, account, actor) and remembers what it said. */
  sendInit(store: Store): { actor: ActorRow; iface: InterfaceWire } {
    const account = store.requireAccount(this.accountId);
    const actor = store.requireActor(this.accountId, this.actorId);
    const resources = store.resourcesForActor(this.actorId);
    const iface = this.#interface(store);
    const init: InitWire = {
      interface: iface,
      resources: resources.map(toWire),
      account: { id: account.id, slug: account.slug, name: account.name },
      actor: { id: actor.id, name: actor.name, type: actor.type },
    };
    this.conn.send(encodeFrame("client", "init", init));
    for (const r of resources) this.resources.set(r.id, JSON.stringify(r));
    this.iface = JSON.stringify(iface);
    return { actor, iface };
  }

  /**
   * Pushes resource and interface changes, and connection details for flows that `ready` gateways
   * (gateway id -> session) have confirmed.
   */
  sync(store: Store, ready: Map<string, GatewaySession>): void {
    const send = (event: string, payload: unknown) => this.conn.send(encodeFrame("client", event, payload));
    const resources = new Map<string, Resource>(store.resourcesForActor(this.actorId).map((r) => [r.id, r]));
    for (const id of [...this.resources.keys()]) {
      if (!resources.has(id)) {
        send("resource_deleted", { id });
        this.resources.delete(id);
        this.details.delete(id);
      }
    }
    for (const [id, r] of resources) {
      const json = JSON.stringify(r);
      if (this.resources.get(id) === json) continue;
      send("resource_created_or_updated", toWire(r));
      this.resources.set(id, json);
    }
    const iface = this.#interface(store);
    const ifaceJson = JSON.stringify(iface);
    if (ifaceJson !== this.iface) {
      send("config_changed", { interface: iface });
      this.iface = ifaceJson;
    }
    // Details point at a gateway only once it has confirmed this client's current access (its
    // current key included), so a client's first handshake is never sent before the gateway knows
    // the key: a lost handshake costs the client the 5 s WireGuard retry.
    for (const f of store.flows()) {
      if (f.client_id !== this.clientId || !f.gateway_id) continue;
      const dns = store.resource(f.resource_id)?.type === "dns";
      if (!ready.get(f.gateway_id)?.inForce(f.client_id, f.resource_id, dns)) continue;
      if (this.requested.has(f.resource_id) || !resources.has(f.resource_id)) continue;
      const details = detailsFor(store, f.resource_id, f.gateway_id);
      if (!details) continue;
      const json = JSON.stringify(details);
      if (this.details.get(f.resource_id) === json) continue;
      send("connection_details", details);
      this.details.set(f.resource_id, json);
    }
  }

  #interface(store: Store): InterfaceWire {
    const client = store.client(this.clientId)!;
    const account = store.requireAccount(this.accountId);
    return {
      ...addressesOf(client),
      upstream_dns: JSON.parse(account.upstream_dns) as string[],
      ...(account.search_domain ? { search_domain: account.search_domain } : {}),
    };
  }
}

/** A resource as the portal protocol carries it: the Internet Resource has no address. */
function toWire(r: Resource): Record<string, unknown> {
  if (r.type !== "internet") return { ...r };
  const { address: _none, ...rest } = r;
  return rest;
}

/** How a client reaches `resourceId` through `gatewayId`; undefined if either is gone. */
export function detailsFor(
  store: Store,
  resourceId: string,
  gatewayId: string,
): ConnectionDetailsWire | undefined {
  const r = store.resource(resourceId);
  const gw: GatewayRow | undefined = store.gateway(gatewayId);
  if (!r || !gw) return undefined;
  const a = addressesOf(gw);
  return {
    resource_id: r.id,
    site_id: gw.site_id,
    gateway_id: gw.id,
    gateway_public_key: gw.public_key,
    gateway_endpoint: gw.endpoint,
    gateway_ipv4: a.ipv4,
    gateway_ipv6: a.ipv6,
    allowed_ips: resourceCidrs(r.type, r.address),
  };
}
