// The devstack gateway: joins the portal's `gateway` topic, and turns init / allow_access /
// reject_access into WireGuard peers (one per client) and nftables rules (per client address),
// confirming each allow_access only once it is in force.
import * as v from "valibot";
import { type GatewayInit, PhoenixChannel, portalWebSocketUrl, protocol } from "../../lib/portal/index.ts";
import type { Logger } from "../../lib/util/index.ts";
import { AccessTable, type ClientDnsMapping, type FilterRule, type RealAddressOf } from "./access.ts";

/** What the gateway needs from a WireGuard device; devstack/gateway/main.ts backs it with lib/wireguard. */
export interface GatewayTunnel {
  up(config: { privateKey: string; listenPort: number; addresses: string[] }): Promise<void>;
  /** Replaces the peer set. */
  setPeers(peers: Array<{ publicKey: string; allowedIps: string[] }>): Promise<void>;
  down(): Promise<void>;
}

export interface GatewayFirewall {
  apply(rules: FilterRule[]): Promise<void>;
  remove(): Promise<void>;
}

/** The DNS resources' NAT (devstack/gateway/dns_nat.ts's DnsNat has this shape). */
export interface GatewayDnsNat {
  add(m: ClientDnsMapping): Promise<void>;
  remove(clientV4: string, proxyV4: string): Promise<void>;
  current: RealAddressOf;
  stop(): Promise<void>;
}

export interface GatewayOptions {
  portalUrl: string;
  token: string;
  externalId: string;
  name?: string;
  privateKey: string;
  publicKey: string;
  /** `ip:port` clients use to reach this gateway. */
  endpoint: string;
  listenPort: number;
  tunnel: GatewayTunnel;
  firewall: GatewayFirewall;
  /** Serves `dns` resources; without it their allow_access is refused with a warning. */
  dnsNat?: GatewayDnsNat;
  logger: Logger;
  /** Called once if the portal refuses the token. */
  onFatal?: (message: string) => void;
  /** Called after each init has been applied. */
  onReady?: (info: { site: string; ipv4: string; clients: number }) => void;
  heartbeatIntervalMs?: number;
  heartbeatTimeoutMs?: number;
}

export class Gateway {
  readonly #o: GatewayOptions;
  readonly #table = new AccessTable();
  readonly #channel: PhoenixChannel;
  #upAddresses: string | undefined;
  /** The DNS mappings in the NAT now, by `clientV4|proxyV4`. */
  readonly #natted = new Map<string, ClientDnsMapping>();

  constructor(options: GatewayOptions) {
    this.#o = options;
    const log = options.logger;
    this.#channel = new PhoenixChannel(
      {
        // The devstack portal is plaintext; this gateway exists only there.
        url: portalWebSocketUrl(options.portalUrl, "gateway", { allowInsecure: true }),
        token: options.token,
        topic: "gateway",
        joinPayload: () => ({
          public_key: options.publicKey,
          external_id: options.externalId,
          endpoint: options.endpoint,
          ...(options.name ? { name: options.name } : {}),
        }),
        logger: log,
        ...(options.heartbeatIntervalMs ? { heartbeatIntervalMs: options.heartbeatIntervalMs } : {}),
        ...(options.heartbeatTimeoutMs ? { heartbeatTimeoutMs: options.heartbeatTimeoutMs } : {}),
      },
      {
        connecting: (attempt) => log.info("connecting to the portal", { attempt }),
        joined: () => log.info("joined the portal"),
        event: (event, payload) => this.#onEvent(event, payload),
        disconnected: (reason, retryInMs) =>
          log.warn("portal connection lost", { reason, retry_ms: retryInMs }),
        terminal: (reason) => {
          log.error("the portal refused the gateway token", { reason });
          options.onFatal?.(
            `The portal refused the gateway token (${reason}). Create a new one with admin.ts create-gateway-token.`,
          );
        },
      },
    );
  }

  start(): void {
    this.#channel.start();
  }

  async stop(): Promise<void> {
    this.#channel.stop();
    await this.#running;
    await this.#o.dnsNat?.stop().catch(() => {});
    await this.#o.firewall.remove().catch(() => {});
    await this.#o.tunnel.down().catch(() => {});
  }

  // Events change the table at once; one apply then covers everything that arrived meanwhile, and
  // the confirmations go out after the apply that put them in force. A burst of 200 allow_access
  // costs a handful of nft loads, not 200.
  #dirty = false;
  #running: Promise<void> | undefined;
  #confirm: string[] = [];
  #initDone = false;
  #wantAddresses: string[] | undefined;
  #ready: Parameters<NonNullable<GatewayOptions["onReady"]>>[0] | undefined;

  #schedule(): void {
    this.#dirty = true;
    this.#running ??= this.#drain().finally(() => {
      this.#running = undefined;
    });
  }

  async #drain(): Promise<void> {
    while (this.#dirty) {
      this.#dirty = false;
      const confirm = this.#confirm.splice(0);
      const initDone = this.#initDone;
      this.#initDone = false;
      const ready = this.#ready;
      this.#ready = undefined;
      try {
        const want = this.#wantAddresses;
        if (want && this.#upAddresses !== want.join(",")) {
          if (this.#upAddresses !== undefined) await this.#o.tunnel.down();
          await this.#o.tunnel.up({
            privateKey: this.#o.privateKey,
            listenPort: this.#o.listenPort,
            addresses: want,
          });
          this.#upAddresses = want.join(",");
        }
        if (this.#upAddresses === undefined) continue;
        await this.#apply();
      } catch (e) {
        this.#o.logger.error("applying portal change failed", { error: e });
        continue;
      }
      if (ready) {
        this.#o.onReady?.(ready);
        this.#o.logger.info("gateway ready", { ...ready, endpoint: this.#o.endpoint });
      }
      if (initDone) void this.#channel.push("init_done", {}).catch(() => {});
      for (const reference of confirm)
        void this.#channel.push("access_allowed", { reference }).catch(() => {});
    }
  }

  #onEvent(event: string, payload: unknown): void {
    const schemas = protocol.gateway.fromPortal;
    const log = this.#o.logger;
    /** The payload if it fits `schema`; a warning (`what`) and undefined if not. */
    const parse = <S extends v.GenericSchema>(schema: S, what: string): v.InferOutput<S> | undefined => {
      const r = v.safeParse(schema, payload);
      if (r.success) return r.output;
      log.warn(what, { issue: r.issues[0]?.message });
      return undefined;
    };
    if (event === "init") {
      const init = parse(schemas.init, "bad init from portal");
      if (init) this.#onInit(init);
    } else if (event === "allow_access") {
      const msg = parse(schemas.allow_access, "bad allow_access");
      if (!msg) return;
      if (msg.resource.type === "dns" && !this.#o.dnsNat) {
        log.warn("a dns resource was allowed but this gateway has no DNS NAT; ignored", {
          resource: msg.resource.id,
        });
        return;
      }
      try {
        this.#table.allow(msg.client, msg.resource);
      } catch (e) {
        log.warn("refused allow_access", { error: e });
        return;
      }
      log.debug("access allowed", { client: msg.client.ipv4, resource: msg.resource.address });
      if (msg.reference) this.#confirm.push(msg.reference);
      this.#schedule();
    } else if (event === "reject_access") {
      const msg = parse(schemas.reject_access, "bad reject_access");
      if (!msg) return;
      this.#table.reject(msg.client_id, msg.resource_id);
      log.debug("access rejected", { client: msg.client_id, resource: msg.resource_id });
      this.#schedule();
    }
  }

  #onInit(init: GatewayInit): void {
    this.#wantAddresses = [`${init.interface.ipv4}/32`, `${init.interface.ipv6}/128`];
    this.#table.replace(init.access, (e) =>
      this.#o.logger.warn("refused an access entry of init", { error: e }),
    );
    // Confirmations for an earlier connection mean nothing to this one.
    this.#confirm = [];
    this.#initDone = true;
    this.#ready = { site: init.site.name, ipv4: init.interface.ipv4, clients: this.#table.size };
    this.#schedule();
  }

  async #apply(): Promise<void> {
    // The NAT first, so the filter below allows the real addresses the names resolve to now; an
    // allow_access is confirmed only after both, so the client's first packet finds its mapping.
    await this.#syncDnsNat();
    // Rules before peers: a removed access stops at the filter before anything else changes.
    const nat = this.#o.dnsNat;
    await this.#o.firewall.apply(this.#table.rules(nat ? (c, p) => nat.current(c, p) : undefined));
    await this.#o.tunnel.setPeers(this.#table.peers());
  }

  /** Brings the DNAT mappings to what the access table holds. */
  async #syncDnsNat(): Promise<void> {
    const nat = this.#o.dnsNat;
    if (!nat) return;
    const want = new Map(this.#table.dnsMappings().map((m) => [`${m.clientV4}|${m.proxyV4}`, m]));
    for (const [key, m] of this.#natted) {
      if (want.has(key)) continue;
      await nat.remove(m.clientV4, m.proxyV4);
      this.#natted.delete(key);
    }
    const added: Promise<void>[] = [];
    for (const [key, m] of want) {
      const had = this.#natted.get(key);
      if (had && had.name === m.name && had.clientV6 === m.clientV6 && had.proxyV6 === m.proxyV6) continue;
      this.#natted.set(key, m);
      added.push(nat.add(m));
    }
    await Promise.all(added);
  }

  /** A name's real address changed: the filter follows it. */
  dnsChanged(): void {
    this.#schedule();
  }
}
