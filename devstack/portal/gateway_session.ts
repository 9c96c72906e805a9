// One joined gateway as the hub sees it: the access it was told about (allow_access / reject_access)
// and which of it the gateway has confirmed, so clients get connection details only for access that
// is in force.
import { encodeFrame } from "../../lib/portal/index.ts";
import type { Conn } from "./hub.ts";
import { addressesOf, type GatewayRow, type Store } from "./store.ts";

/** What a gateway is told about one client's access to one resource. */
export interface AccessPayload {
  client: { id: string; public_key: string; ipv4: string; ipv6: string };
  resource: {
    id: string;
    type: "cidr" | "ip" | "internet" | "dns";
    address: string;
    dns?: { name: string; proxy_ipv4: string; proxy_ipv6: string };
  };
}

/** The access key of a pair, or of one name of a dns resource: `client/resource[/proxy]`. */
export function accessKey(clientId: string, resourceId: string, proxyV4?: string): string {
  return proxyV4 ? `${clientId}/${resourceId}/${proxyV4}` : `${clientId}/${resourceId}`;
}

export class GatewaySession {
  /** `clientId/resourceId` -> the allow_access payload last sent (without its reference). */
  readonly sent = new Map<string, string>();
  readonly acked = new Set<string>();
  /** False until the gateway says its `init` is in force (init_done); clients wait for that. */
  ready = false;
  readonly #initKeys = new Set<string>();
  readonly #references = new Map<string, string>();
  readonly #waiters = new Map<string, Array<(ok: boolean) => void>>();

  constructor(
    readonly conn: Conn,
    readonly gatewayId: string,
    readonly siteId: string,
    readonly tokenId: string,
  ) {}

  /** Sends `init` with the access routed through this gateway now; returns its site and flow count. */
  sendInit(store: Store, gw: GatewayRow): { site: { id: string; name: string }; flows: number } {
    const desired = this.#desiredAccess(store);
    const byClient = new Map<
      string,
      { client: AccessPayload["client"]; resources: AccessPayload["resource"][] }
    >();
    for (const [key, access] of desired) {
      const entry = byClient.get(access.client.id) ?? { client: access.client, resources: [] };
      entry.resources.push(access.resource);
      byClient.set(access.client.id, entry);
      this.sent.set(key, JSON.stringify(access));
      this.#initKeys.add(key);
    }
    const site = store.requireSite(gw.account_id, this.siteId);
    this.conn.send(
      encodeFrame("gateway", "init", {
        interface: addressesOf(gw),
        gateway: { id: gw.id, name: gw.name },
        site,
        access: [...byClient.values()],
      }),
    );
    return { site, flows: desired.size };
  }

  /**
   * The gateway has confirmed this client's access to the resource: the pair, or for a dns
   * resource every name mapped so far (none mapped: nothing to wait for).
   */
  inForce(clientId: string, resourceId: string, dns: boolean): boolean {
    const base = accessKey(clientId, resourceId);
    if (!dns) return this.acked.has(base);
    for (const k of this.sent.keys()) if (k.startsWith(`${base}/`) && !this.acked.has(k)) return false;
    return true;
  }

  /** Resolves true once the gateway confirms `key` (`clientId/resourceId`), false after `timeoutMs` or if it leaves. */
  waitForAck(key: string, timeoutMs: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      const list = this.#waiters.get(key) ?? [];
      list.push((result) => {
        clearTimeout(timer);
        resolve(result);
      });
      this.#waiters.set(key, list);
    });
  }

  /** The gateway confirmed the allow_access with `reference`; false when it is not the current one. */
  accessAllowed(reference: string): boolean {
    const key = this.#references.get(reference);
    if (!key) return false;
    this.#references.delete(reference);
    this.#confirm(key);
    return true;
  }

  /** The gateway put its init in force: everything the init carried counts as confirmed. */
  initDone(): void {
    this.ready = true;
    for (const key of this.#initKeys) this.#confirm(key);
    this.#initKeys.clear();
  }

  /** The gateway left: nobody waits for its confirmations any more. */
  left(): void {
    for (const list of this.#waiters.values()) for (const w of list) w(false);
  }

  /** Sends reject_access and allow_access until the gateway knows exactly the access routed through it. */
  sync(store: Store): void {
    const desired = this.#desiredAccess(store);
    for (const key of [...this.sent.keys()]) {
      if (desired.has(key)) continue;
      const [client_id, resource_id] = key.split("/") as [string, string];
      this.conn.send(encodeFrame("gateway", "reject_access", { client_id, resource_id }));
      this.sent.delete(key);
      this.acked.delete(key);
    }
    for (const [key, access] of desired) {
      const json = JSON.stringify(access);
      if (this.sent.get(key) === json) continue;
      const reference = crypto.randomUUID();
      // An ack for an older allow_access of this pair (an older client key) must not count as
      // confirming this one: forget the older references.
      for (const [ref, k] of this.#references) if (k === key) this.#references.delete(ref);
      this.#references.set(reference, key);
      this.acked.delete(key);
      // Nor may init_done confirm it: the init carried the older content.
      this.#initKeys.delete(key);
      this.conn.send(encodeFrame("gateway", "allow_access", { reference, ...access }));
      this.sent.set(key, json);
    }
  }

  #confirm(key: string): void {
    this.acked.add(key);
    for (const w of this.#waiters.get(key) ?? []) w(true);
    this.#waiters.delete(key);
  }

  #desiredAccess(store: Store): Map<string, AccessPayload> {
    const desired = new Map<string, AccessPayload>();
    for (const f of store.flows()) {
      if (f.gateway_id !== this.gatewayId) continue;
      const client = store.client(f.client_id);
      const r = store.resource(f.resource_id);
      if (!client || !r) continue;
      const c = { id: client.id, public_key: client.public_key, ...addressesOf(client) };
      const resource = { id: r.id, type: r.type, address: r.address };
      if (r.type !== "dns") {
        desired.set(accessKey(f.client_id, f.resource_id), { client: c, resource });
        continue;
      }
      // One entry per mapped name. Rejecting one sends reject_access for the resource, which the
      // gateway applies to all its names; mappings only go away with the whole flow, so that is exact.
      for (const dns of store.dnsMappings(f.client_id, f.resource_id))
        desired.set(accessKey(f.client_id, f.resource_id, dns.proxy_ipv4), {
          client: c,
          resource: { ...resource, dns },
        });
    }
    return desired;
  }
}
