// The portal's live side: joined clients and gateways, and one reconcile() that compares what the
// store says each of them should know with what they were last told, and pushes the difference.
// Every change (admin CLI commit, sign-in, request_connection, a gateway joining, an expiry) ends
// in reconcile(), so there is one place where tokens, policies and flows take effect.
import * as v from "valibot";
import {
  CLOSE_INVALID_TOKEN,
  CLOSE_REPLACED,
  type ConnectionDetails,
  encodeFrame,
  type Init,
  type InterfaceConfig,
  protocol,
  type TokenProblem,
} from "../../lib/portal/index.ts";
import type { Resource } from "../../lib/types/index.ts";
import type { Logger } from "../../lib/util/index.ts";
import { resourceCidrs } from "../shared/ip.ts";
import { addressesOf, type GatewayRow, type Store } from "./store.ts";

/** The socket as the hub sees it. */
export interface Conn {
  send(text: string): void;
  close(code: number, reason: string): void;
}

interface ClientSession {
  conn: Conn;
  clientId: string;
  accountId: string;
  actorId: string;
  tokenId: string;
  resources: Map<string, string>;
  iface: string;
  details: Map<string, string>;
  /** Resources with a request_connection in flight: their details go in the reply, not a push. */
  requested: Set<string>;
}

interface GatewaySession {
  conn: Conn;
  gatewayId: string;
  siteId: string;
  tokenId: string;
  /** `clientId/resourceId` -> the allow_access payload last sent (without its reference). */
  sent: Map<string, string>;
  acked: Set<string>;
  /** False until the gateway says its `init` is in force (init_done); clients wait for that. */
  ready: boolean;
  initKeys: Set<string>;
  references: Map<string, string>;
  waiters: Map<string, Array<(ok: boolean) => void>>;
}

type ReplyFn = (status: "ok" | "error", response: unknown) => void;

export interface HubOptions {
  store: Store;
  logger: Logger;
  /** How long request_connection waits for the gateway to confirm. Default 5 s. */
  accessAckTimeoutMs?: number;
}

export class Hub {
  readonly #clients = new Map<Conn, ClientSession>();
  readonly #gateways = new Map<Conn, GatewaySession>();
  readonly #store: Store;
  readonly #log: Logger;
  readonly #ackTimeoutMs: number;

  constructor(options: HubOptions) {
    this.#store = options.store;
    this.#log = options.logger;
    this.#ackTimeoutMs = options.accessAckTimeoutMs ?? 5_000;
  }

  get counts(): { clients: number; gateways: number } {
    return { clients: this.#clients.size, gateways: this.#gateways.size };
  }

  // ---- joins ----

  joinClient(conn: Conn, tokenId: string, payload: unknown, reply: ReplyFn) {
    const check = this.#store.checkTokenId(tokenId);
    if (!check.ok) return this.#refuse(conn, "client", check.reason, reply);
    const join = v.safeParse(protocol.client.fromMember.phx_join.payload, payload);
    if (!join.success) return reply("error", { reason: `invalid_payload: ${join.issues[0]?.message}` });
    const token = check.token;
    const actorId = token.actor_id!;
    const client = this.#store.upsertClient(token.account_id, actorId, join.output);
    for (const [other, s] of this.#clients) {
      if (s.clientId === client.id) {
        this.#clients.delete(other);
        other.close(CLOSE_REPLACED, "replaced by a newer connection of this device");
      }
    }
    const session: ClientSession = {
      conn,
      clientId: client.id,
      accountId: token.account_id,
      actorId,
      tokenId,
      resources: new Map(),
      iface: "",
      details: new Map(),
      requested: new Set(),
    };
    this.#store.touchToken(tokenId);
    reply("ok", {});
    const account = this.#store.requireAccount(token.account_id);
    const actor = this.#store.requireActor(token.account_id, actorId);
    const resources = this.#store.resourcesForActor(actorId);
    const iface = this.#interfaceOf(session);
    const init: Init = {
      interface: iface,
      resources,
      account: { id: account.id, slug: account.slug, name: account.name },
      actor: { id: actor.id, name: actor.name, type: actor.type },
    };
    conn.send(encodeFrame("client", "init", init));
    for (const r of resources) session.resources.set(r.id, JSON.stringify(r));
    session.iface = JSON.stringify(iface);
    this.#clients.set(conn, session);
    this.#log.info("client joined", { client: client.id, actor: actor.name, ipv4: iface.ipv4 });
    this.reconcile();
  }

  joinGateway(conn: Conn, tokenId: string, payload: unknown, reply: ReplyFn) {
    const check = this.#store.checkTokenId(tokenId);
    if (!check.ok) return this.#refuse(conn, "gateway", check.reason, reply);
    const join = v.safeParse(protocol.gateway.fromMember.phx_join.payload, payload);
    if (!join.success) return reply("error", { reason: `invalid_payload: ${join.issues[0]?.message}` });
    const siteId = check.token.site_id!;
    const gw = this.#store.upsertGateway(siteId, join.output);
    for (const [other, s] of this.#gateways) {
      if (s.gatewayId === gw.id) {
        this.#gateways.delete(other);
        other.close(CLOSE_REPLACED, "replaced by a newer connection of this gateway");
      }
    }
    const session: GatewaySession = {
      conn,
      gatewayId: gw.id,
      siteId,
      tokenId,
      sent: new Map(),
      acked: new Set(),
      ready: false,
      initKeys: new Set(),
      references: new Map(),
      waiters: new Map(),
    };
    this.#gateways.set(conn, session);
    this.#store.touchToken(tokenId);
    reply("ok", {});
    this.#assignFlows();
    const desired = this.#desiredAccess(session);
    const byClient = new Map<
      string,
      { client: AccessPayload["client"]; resources: AccessPayload["resource"][] }
    >();
    for (const [key, access] of desired) {
      const entry = byClient.get(access.client.id) ?? { client: access.client, resources: [] };
      entry.resources.push(access.resource);
      byClient.set(access.client.id, entry);
      session.sent.set(key, JSON.stringify(access));
      session.initKeys.add(key);
    }
    const site = this.#store.requireSite(gw.account_id, siteId);
    conn.send(
      encodeFrame("gateway", "init", {
        interface: addressesOf(gw),
        gateway: { id: gw.id, name: gw.name },
        site,
        access: [...byClient.values()],
      }),
    );
    this.#log.info("gateway joined", {
      gateway: gw.id,
      site: site.name,
      endpoint: gw.endpoint,
      flows: desired.size,
    });
    this.reconcile();
  }

  #refuse(conn: Conn, topic: string, reason: TokenProblem, reply: ReplyFn): void {
    reply("error", { reason });
    conn.send(encodeFrame(topic, "invalid_token", { reason }));
    conn.close(CLOSE_INVALID_TOKEN, reason);
  }

  leave(conn: Conn): void {
    const c = this.#clients.get(conn);
    if (c) this.#log.info("client left", { client: c.clientId });
    this.#clients.delete(conn);
    const g = this.#gateways.get(conn);
    if (g) {
      this.#log.info("gateway left", { gateway: g.gatewayId });
      for (const list of g.waiters.values()) for (const w of list) w(false);
    }
    this.#gateways.delete(conn);
    // Another gateway of the site, if one is online, takes over this one's flows.
    if (g) void this.#reconcileSoon();
  }

  isJoined(conn: Conn): boolean {
    return this.#clients.has(conn) || this.#gateways.has(conn);
  }

  // ---- requests ----

  async requestConnection(conn: Conn, payload: unknown, reply: ReplyFn): Promise<void> {
    const session = this.#clients.get(conn);
    const req = v.safeParse(protocol.client.fromMember.request_connection.payload, payload);
    if (!session || !req.success) return reply("error", { reason: "invalid_payload" });
    const resourceId = req.output.resource_id;
    if (!this.#store.actorMayUse(session.actorId, resourceId)) return reply("error", { reason: "not_found" });
    session.requested.add(resourceId);
    try {
      this.#store.upsertFlow(session.clientId, resourceId, session.tokenId);
      await this.#reconcileSoon();
      if (!this.#clients.has(conn)) return reply("error", { reason: "offline" });
      const flow = this.#store
        .flows()
        .find((f) => f.client_id === session.clientId && f.resource_id === resourceId);
      const gwSession = [...this.#gateways.values()].find((g) => g.gatewayId === flow?.gateway_id);
      if (!flow || !gwSession) return reply("error", { reason: "offline" });
      const key = `${session.clientId}/${resourceId}`;
      if (!gwSession.acked.has(key)) {
        const ok = await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(false), this.#ackTimeoutMs);
          const list = gwSession.waiters.get(key) ?? [];
          list.push((result) => {
            clearTimeout(timer);
            resolve(result);
          });
          gwSession.waiters.set(key, list);
        });
        if (!ok) return reply("error", { reason: "gateway_timeout" });
      }
      const details = this.#detailsFor(resourceId, flow.gateway_id!);
      if (!details || !this.#clients.has(conn)) return reply("error", { reason: "offline" });
      session.details.set(resourceId, JSON.stringify(details));
      reply("ok", details);
    } finally {
      session.requested.delete(resourceId);
    }
  }

  accessAllowed(conn: Conn, payload: unknown, reply: ReplyFn) {
    const session = this.#gateways.get(conn);
    const msg = v.safeParse(protocol.gateway.fromMember.access_allowed.payload, payload);
    if (!session || !msg.success) return reply("error", { reason: "invalid_payload" });
    reply("ok", {});
    const key = session.references.get(msg.output.reference);
    if (!key) return;
    session.references.delete(msg.output.reference);
    session.acked.add(key);
    for (const w of session.waiters.get(key) ?? []) w(true);
    session.waiters.delete(key);
    // Details held back until this confirmation (a re-keyed client) can go out now.
    void this.#reconcileSoon();
  }

  initDone(conn: Conn, reply: ReplyFn) {
    const session = this.#gateways.get(conn);
    if (!session) return reply("error", { reason: "not_joined" });
    reply("ok", {});
    session.ready = true;
    for (const key of session.initKeys) {
      session.acked.add(key);
      for (const w of session.waiters.get(key) ?? []) w(true);
      session.waiters.delete(key);
    }
    session.initKeys.clear();
    this.reconcile();
  }

  // ---- reconcile ----

  #soon: Promise<void> | undefined;

  /** One reconcile for every request that arrives in the same turn (a client asking for 200 resources). */
  #reconcileSoon(): Promise<void> {
    this.#soon ??= new Promise<void>((resolve) =>
      setTimeout(() => {
        this.#soon = undefined;
        try {
          this.reconcile();
        } finally {
          resolve();
        }
      }, 0),
    );
    return this.#soon;
  }

  #closed = false;

  /** Stops all further work; the store is about to close. */
  close(): void {
    this.#closed = true;
  }

  /** Brings every connected client and gateway in line with the store. Synchronous: sqlite is. */
  reconcile(): void {
    if (this.#closed) return;
    for (const [conn, s] of this.#clients) {
      const check = this.#store.checkTokenId(s.tokenId);
      if (!check.ok) this.#terminate(conn, "client", check.reason);
    }
    for (const [conn, s] of this.#gateways) {
      const check = this.#store.checkTokenId(s.tokenId);
      if (!check.ok) this.#terminate(conn, "gateway", check.reason);
    }
    this.#pruneFlows();
    this.#assignFlows();
    // Gateways first: a re-keyed client's pairs lose their old confirmation here, so the client
    // sync below holds its details back until the gateway confirms the new key.
    for (const s of this.#gateways.values()) this.#syncGateway(s);
    for (const s of this.#clients.values()) this.#syncClient(s);
  }

  #terminate(conn: Conn, topic: "client" | "gateway", reason: TokenProblem): void {
    this.#log.info(`${topic} token no longer valid; disconnecting`, { reason });
    this.leave(conn);
    conn.send(encodeFrame(topic, "invalid_token", { reason }));
    conn.close(CLOSE_INVALID_TOKEN, reason);
  }

  /** Drops flows whose token died, whose actor lost the policy, or whose device changed hands. */
  #pruneFlows(): void {
    for (const f of this.#store.flows()) {
      const check = this.#store.checkTokenId(f.token_id);
      const client = this.#store.client(f.client_id);
      const ok =
        check.ok &&
        client !== undefined &&
        client.actor_id === check.token.actor_id &&
        this.#store.actorMayUse(client.actor_id, f.resource_id);
      if (!ok) this.#store.deleteFlow(f.client_id, f.resource_id);
    }
  }

  /** Routes each flow through an online gateway of its resource's site, keeping the current one if it is. */
  #assignFlows(): void {
    const online = new Map<string, string[]>();
    const onlineIds = new Set<string>();
    for (const g of this.#gateways.values()) {
      online.set(g.siteId, [...(online.get(g.siteId) ?? []), g.gatewayId].sort());
      onlineIds.add(g.gatewayId);
    }
    for (const f of this.#store.flows()) {
      const siteId = this.#store.resourceSiteId(f.resource_id);
      const current = f.gateway_id ? this.#store.gateway(f.gateway_id) : undefined;
      const currentFits = current !== undefined && current.site_id === siteId;
      if (currentFits && onlineIds.has(current.id)) continue;
      const candidate = siteId ? online.get(siteId)?.[0] : undefined;
      const next = candidate ?? (currentFits ? current.id : null);
      if (next !== f.gateway_id) this.#store.setFlowGateway(f.client_id, f.resource_id, next);
    }
  }

  #interfaceOf(s: ClientSession): InterfaceConfig {
    const client = this.#store.client(s.clientId)!;
    const account = this.#store.requireAccount(s.accountId);
    return { ...addressesOf(client), upstream_dns: JSON.parse(account.upstream_dns) as string[] };
  }

  #syncClient(s: ClientSession): void {
    const send = (event: string, payload: unknown) => s.conn.send(encodeFrame("client", event, payload));
    const resources = new Map<string, Resource>(
      this.#store.resourcesForActor(s.actorId).map((r) => [r.id, r]),
    );
    for (const id of [...s.resources.keys()]) {
      if (!resources.has(id)) {
        send("resource_deleted", { id });
        s.resources.delete(id);
        s.details.delete(id);
      }
    }
    for (const [id, r] of resources) {
      const json = JSON.stringify(r);
      if (s.resources.get(id) === json) continue;
      send("resource_created_or_updated", r);
      s.resources.set(id, json);
    }
    const iface = this.#interfaceOf(s);
    const ifaceJson = JSON.stringify(iface);
    if (ifaceJson !== s.iface) {
      send("config_changed", { interface: iface });
      s.iface = ifaceJson;
    }
    // Details point at a gateway only once it has confirmed this client's current access (its
    // current key included), so a client's first handshake is never sent before the gateway knows
    // the key: a lost handshake costs the client the 5 s WireGuard retry.
    const ready = new Map([...this.#gateways.values()].filter((g) => g.ready).map((g) => [g.gatewayId, g]));
    for (const f of this.#store.flows()) {
      if (f.client_id !== s.clientId || !f.gateway_id) continue;
      if (!ready.get(f.gateway_id)?.acked.has(`${f.client_id}/${f.resource_id}`)) continue;
      if (s.requested.has(f.resource_id) || !resources.has(f.resource_id)) continue;
      const details = this.#detailsFor(f.resource_id, f.gateway_id);
      if (!details) continue;
      const json = JSON.stringify(details);
      if (s.details.get(f.resource_id) === json) continue;
      send("connection_details", details);
      s.details.set(f.resource_id, json);
    }
  }

  #detailsFor(resourceId: string, gatewayId: string): ConnectionDetails | undefined {
    const r = this.#store.resource(resourceId);
    const gw: GatewayRow | undefined = this.#store.gateway(gatewayId);
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

  #desiredAccess(g: GatewaySession): Map<string, AccessPayload> {
    const desired = new Map<string, AccessPayload>();
    for (const f of this.#store.flows()) {
      if (f.gateway_id !== g.gatewayId) continue;
      const client = this.#store.client(f.client_id);
      const r = this.#store.resource(f.resource_id);
      if (!client || !r) continue;
      desired.set(`${f.client_id}/${f.resource_id}`, {
        client: { id: client.id, public_key: client.public_key, ...addressesOf(client) },
        resource: { id: r.id, type: r.type, address: r.address },
      });
    }
    return desired;
  }

  #syncGateway(g: GatewaySession): void {
    const desired = this.#desiredAccess(g);
    for (const key of [...g.sent.keys()]) {
      if (desired.has(key)) continue;
      const [client_id, resource_id] = key.split("/") as [string, string];
      g.conn.send(encodeFrame("gateway", "reject_access", { client_id, resource_id }));
      g.sent.delete(key);
      g.acked.delete(key);
    }
    for (const [key, access] of desired) {
      const json = JSON.stringify(access);
      if (g.sent.get(key) === json) continue;
      const reference = crypto.randomUUID();
      // An ack for an older allow_access of this pair (an older client key) must not count as
      // confirming this one: forget the older references.
      for (const [ref, k] of g.references) if (k === key) g.references.delete(ref);
      g.references.set(reference, key);
      g.acked.delete(key);
      // Nor may init_done confirm it: the init carried the older content.
      g.initKeys.delete(key);
      g.conn.send(encodeFrame("gateway", "allow_access", { reference, ...access }));
      g.sent.set(key, json);
    }
  }
}

interface AccessPayload {
  client: { id: string; public_key: string; ipv4: string; ipv6: string };
  resource: { id: string; type: "cidr" | "ip"; address: string };
}
