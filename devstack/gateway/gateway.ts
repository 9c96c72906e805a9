// The devstack gateway: joins the portal's `gateway` topic, and turns init / allow_access /
// reject_access into WireGuard peers (one per client) and nftables rules (per client address),
// confirming each allow_access only once it is in force.
import * as v from "valibot";
import { type GatewayInit, PhoenixChannel, portalWebSocketUrl, protocol } from "../../lib/portal/index.ts";
import type { Logger } from "../../lib/util/index.ts";
import { AccessTable, type FilterRule } from "./access.ts";

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
  #queue: Promise<void> = Promise.resolve();

  constructor(options: GatewayOptions) {
    this.#o = options;
    const log = options.logger;
    this.#channel = new PhoenixChannel(
      {
        url: portalWebSocketUrl(options.portalUrl, "gateway"),
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
    await this.#queue;
    await this.#o.firewall.remove().catch(() => {});
    await this.#o.tunnel.down().catch(() => {});
  }

  /** Runs changes one at a time, in arrival order. */
  #enqueue(work: () => Promise<void>): Promise<void> {
    const next = this.#queue
      .then(work)
      .catch((e) => this.#o.logger.error("applying portal change failed", { error: e }));
    this.#queue = next;
    return next;
  }

  #onEvent(event: string, payload: unknown): void {
    const schemas = protocol.gateway.fromPortal;
    if (event === "init") {
      const init = v.safeParse(schemas.init, payload);
      if (init.success) void this.#enqueue(() => this.#onInit(init.output));
      else this.#o.logger.warn("bad init from portal", { issue: init.issues[0]?.message });
    } else if (event === "allow_access") {
      const msg = v.safeParse(schemas.allow_access, payload);
      if (!msg.success) {
        this.#o.logger.warn("bad allow_access", { issue: msg.issues[0]?.message });
        return;
      }
      void this.#enqueue(async () => {
        this.#table.allow(msg.output.client, msg.output.resource);
        await this.#apply();
        this.#o.logger.info("access allowed", {
          client: msg.output.client.ipv4,
          resource: msg.output.resource.address,
        });
        if (msg.output.reference)
          await this.#channel.push("access_allowed", { reference: msg.output.reference }).catch(() => {});
      });
    } else if (event === "reject_access") {
      const msg = v.safeParse(schemas.reject_access, payload);
      if (!msg.success) {
        this.#o.logger.warn("bad reject_access", { issue: msg.issues[0]?.message });
        return;
      }
      void this.#enqueue(async () => {
        this.#table.reject(msg.output.client_id, msg.output.resource_id);
        await this.#apply();
        this.#o.logger.info("access rejected", {
          client: msg.output.client_id,
          resource: msg.output.resource_id,
        });
      });
    }
  }

  async #onInit(init: GatewayInit): Promise<void> {
    const addresses = [`${init.interface.ipv4}/32`, `${init.interface.ipv6}/128`];
    if (this.#upAddresses !== addresses.join(",")) {
      if (this.#upAddresses !== undefined) await this.#o.tunnel.down();
      await this.#o.tunnel.up({ privateKey: this.#o.privateKey, listenPort: this.#o.listenPort, addresses });
      this.#upAddresses = addresses.join(",");
    }
    this.#table.replace(init.access);
    await this.#apply();
    this.#o.onReady?.({ site: init.site.name, ipv4: init.interface.ipv4, clients: this.#table.size });
    this.#o.logger.info("gateway ready", {
      site: init.site.name,
      ipv4: init.interface.ipv4,
      clients: this.#table.size,
      endpoint: this.#o.endpoint,
    });
  }

  async #apply(): Promise<void> {
    // Rules before peers: a removed access stops at the filter before anything else changes.
    await this.#o.firewall.apply(this.#table.rules());
    await this.#o.tunnel.setPeers(this.#table.peers());
  }
}
