// The portal's live side: joined clients and gateways, and one reconcile() that compares what the
// store says each of them should know with what they were last told, and pushes the difference.
// Every change (admin CLI commit, sign-in, request_connection, a gateway joining, an expiry) ends
// in reconcile(), so there is one place where tokens, policies and flows take effect. What one
// client or gateway was told lives in ClientSession and GatewaySession.
import * as v from "valibot";
// lib/dns/pattern.ts itself, not lib/dns/index.ts: the index loads the D-Bus client (dbus-next),
// which the devstack does not need and the VM guest does not have.
import { parseDnsPattern } from "../../lib/dns/pattern.ts";
import {
  CLOSE_INVALID_TOKEN,
  CLOSE_REPLACED,
  encodeFrame,
  protocol,
  type TokenProblem,
} from "../../lib/portal/index.ts";
import type { Logger } from "../../lib/util/index.ts";
import { ClientSession, detailsFor } from "./client_session.ts";
import { accessKey, GatewaySession } from "./gateway_session.ts";
import type { Store } from "./store.ts";

/** The socket as the hub sees it. */
export interface Conn {
  send(text: string): void;
  close(code: number, reason: string): void;
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
    this.#replace(this.#clients, (s) => s.clientId === client.id, "this device");
    const session = new ClientSession(conn, client.id, token.account_id, actorId, tokenId);
    this.#store.touchToken(tokenId);
    reply("ok", {});
    const { actor, iface } = session.sendInit(this.#store);
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
    this.#replace(this.#gateways, (s) => s.gatewayId === gw.id, "this gateway");
    const session = new GatewaySession(conn, gw.id, siteId, tokenId);
    this.#gateways.set(conn, session);
    this.#store.touchToken(tokenId);
    reply("ok", {});
    this.#assignFlows();
    const { site, flows } = session.sendInit(this.#store, gw);
    this.#log.info("gateway joined", { gateway: gw.id, site: site.name, endpoint: gw.endpoint, flows });
    this.reconcile();
  }

  /** Closes the older connections of a device or gateway that just joined again. */
  #replace<S>(sessions: Map<Conn, S>, same: (s: S) => boolean, what: string): void {
    for (const [other, s] of sessions) {
      if (same(s)) {
        sessions.delete(other);
        other.close(CLOSE_REPLACED, `replaced by a newer connection of ${what}`);
      }
    }
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
      g.left();
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
    const dns = req.output.dns;
    const resource = this.#store.resource(resourceId);
    // A name is mapped only under a dns resource whose pattern covers it: a policy for
    // *.corp.example must not let a client map secret.other.example through the gateway.
    if (dns && (resource?.type !== "dns" || !parseDnsPattern(resource.address).matches(dns.name)))
      return reply("error", { reason: "name_not_covered" });
    session.requested.add(resourceId);
    try {
      this.#store.upsertFlow(session.clientId, resourceId, session.tokenId);
      if (dns) this.#store.upsertDnsMapping(session.clientId, resourceId, dns);
      await this.#reconcileSoon();
      if (!this.#clients.has(conn)) return reply("error", { reason: "offline" });
      const flow = this.#store
        .flows()
        .find((f) => f.client_id === session.clientId && f.resource_id === resourceId);
      const gwSession = [...this.#gateways.values()].find((g) => g.gatewayId === flow?.gateway_id);
      if (!flow || !gwSession) return reply("error", { reason: "offline" });
      const key = accessKey(session.clientId, resourceId, dns?.proxy_ipv4);
      // A dns resource asked for without a name has nothing at the gateway to wait for.
      const waits = resource?.type !== "dns" || dns !== undefined;
      if (waits && !gwSession.acked.has(key)) {
        const ok = await gwSession.waitForAck(key, this.#ackTimeoutMs);
        if (!ok) return reply("error", { reason: "gateway_timeout" });
      }
      const details = detailsFor(this.#store, resourceId, flow.gateway_id!);
      if (!details || !this.#clients.has(conn)) return reply("error", { reason: "offline" });
      session.details.set(resourceId, JSON.stringify(details));
      reply("ok", details);
    } catch (e) {
      // The resource can vanish between the policy check and the flow insert (a delete committed
      // by another process): the foreign key refuses the flow. Answer as for any unknown resource.
      const gone = !this.#store.resource(resourceId);
      if (!gone) this.#log.error("request_connection failed", { resource: resourceId, error: e });
      reply("error", { reason: gone ? "not_found" : "internal" });
    } finally {
      session.requested.delete(resourceId);
    }
  }

  accessAllowed(conn: Conn, payload: unknown, reply: ReplyFn) {
    const session = this.#gateways.get(conn);
    const msg = v.safeParse(protocol.gateway.fromMember.access_allowed.payload, payload);
    if (!session || !msg.success) return reply("error", { reason: "invalid_payload" });
    reply("ok", {});
    // Details held back until this confirmation (a re-keyed client) can go out now.
    if (session.accessAllowed(msg.output.reference)) void this.#reconcileSoon();
  }

  initDone(conn: Conn, reply: ReplyFn) {
    const session = this.#gateways.get(conn);
    if (!session) return reply("error", { reason: "not_joined" });
    reply("ok", {});
    session.initDone();
    this.reconcile();
  }

  // ---- reconcile ----

  #soon: Promise<void> | undefined;

  /** One reconcile for every request that arrives in the same turn (a client asking for 200 resources). */
  #reconcileSoon(): Promise<void> {
    this.#soon ??= new Promise<void>((resolve) =>
      setTimeout(() => {
        this.#soon = undefined;
        // A throw here would escape the timer and end the portal: log it, as the poll path does.
        try {
          this.reconcile();
        } catch (e) {
          this.#log.error("reconcile failed", { error: e });
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
    for (const s of this.#gateways.values()) s.sync(this.#store);
    const ready = new Map([...this.#gateways.values()].filter((g) => g.ready).map((g) => [g.gatewayId, g]));
    for (const s of this.#clients.values()) s.sync(this.#store, ready);
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
}
