// The daemon's side of the `client` topic: typed, validated events and requestConnection(), on top of
// a PhoenixChannel that reconnects by itself. A refused token ends in one `signed_out` event.

import { rootCertificates } from "node:tls";
import * as v from "valibot";
import type { Logger } from "../util/index.ts";
import { type ChannelTuning, PhoenixChannel } from "./channel.ts";
import {
  type ClientJoin,
  type ConnectionDetails,
  ConnectionDetailsSchema,
  type Init,
  type InterfaceEntry,
  protocol,
  type ResourceEntry,
  type TokenProblem,
} from "./protocol.ts";
import { portalWebSocketUrl } from "./url.ts";

export interface PortalClientOptions extends ChannelTuning {
  /** The portal's base URL: `wss://...` or `https://...` (`ws://`, `http://` only with allowInsecure). */
  url: string;
  /** Accept a plaintext portal URL (the devstack and labs): `allow_insecure_portal`. */
  allowInsecure?: boolean;
  /** Extra CA certificates (PEM) trusted for the portal besides the runtime's roots: `ca_file`. */
  ca?: string | null;
  /** Used only in the `X-Authorization` header; never logged or put in an error. */
  token: string;
  /** This device's WireGuard public key (base64). */
  publicKey: string;
  /** A stable device id, kept in the daemon's state dir. */
  deviceId: string;
  deviceName?: string;
  version?: string;
}

/** Every event a PortalClient emits, by name. */
export interface PortalClientEvents {
  /** A connection attempt starts (`attempt` counts failures since the last connection that stayed up). */
  connecting: { attempt: number };
  /** Joined: the full configuration. Sent again after every reconnect; treat it as the whole truth. */
  init: Init;
  config_changed: { interface: InterfaceEntry };
  /** A resource that failed its schema arrives as `{ok: false, skipped}`, to be reported. */
  resource_created_or_updated: ResourceEntry;
  resource_deleted: { id: string };
  /** The way to a resource: from requestConnection(), or pushed when a gateway changed key or endpoint. */
  connection_details: ConnectionDetails;
  /** The connection dropped; the client retries by itself after `retryInMs`. */
  disconnected: { reason: string; retryInMs: number };
  /** The portal refused the token. Terminal: no reconnect; sign in again with a new token. */
  signed_out: { reason: TokenProblem; message: string };
}

export type PortalClientState =
  | "idle"
  | "connecting"
  | "connected"
  | "reconnecting"
  | "signed_out"
  | "stopped";

type Listener<E extends keyof PortalClientEvents> = (payload: PortalClientEvents[E]) => void;

const MESSAGES: Record<TokenProblem, string> = {
  invalid: "The portal does not know this token. Sign in again.",
  expired: "The token has expired. Sign in again.",
  revoked: "The token was revoked in the portal. Sign in again.",
};

export class PortalClient {
  readonly #channel: PhoenixChannel;
  readonly #listeners = new Map<keyof PortalClientEvents, Set<(payload: never) => void>>();
  readonly #log: Logger | undefined;
  #state: PortalClientState = "idle";
  #everJoined = false;

  constructor(options: PortalClientOptions) {
    const { url, token, publicKey, deviceId, deviceName, version, allowInsecure, ca, ...tuning } = options;
    this.#log = options.logger;
    const join: ClientJoin = {
      public_key: publicKey,
      external_id: deviceId,
      ...(deviceName ? { name: deviceName } : {}),
      ...(version ? { version } : {}),
      os: "linux",
    };
    this.#channel = new PhoenixChannel(
      {
        ...tuning,
        url: portalWebSocketUrl(url, "client", { allowInsecure: allowInsecure ?? false }),
        ...(ca ? { tls: { ca: [...rootCertificates, ca] } } : {}),
        token,
        topic: "client",
        joinPayload: () => join,
      },
      {
        connecting: (attempt) => {
          this.#state = this.#everJoined ? "reconnecting" : "connecting";
          this.#emit("connecting", { attempt });
        },
        joined: () => {
          // `init` follows the join reply; the state turns `connected` when it arrives.
        },
        event: (event, payload) => this.#onEvent(event, payload),
        disconnected: (reason, retryInMs) => {
          this.#state = "reconnecting";
          this.#emit("disconnected", { reason, retryInMs });
        },
        terminal: (reason) => {
          this.#state = "signed_out";
          this.#emit("signed_out", { reason, message: MESSAGES[reason] });
        },
      },
    );
  }

  get state(): PortalClientState {
    return this.#state;
  }

  start(): void {
    this.#channel.start();
  }

  stop(): void {
    this.#channel.stop();
    if (this.#state !== "signed_out") this.#state = "stopped";
  }

  /** Reconnects at once with the backoff started over (the network changed); see PhoenixChannel. */
  reconnect(reason: string): void {
    this.#channel.reconnect(reason);
  }

  /** Subscribes to one event; returns the unsubscribe function. */
  on<E extends keyof PortalClientEvents>(event: E, listener: Listener<E>): () => void {
    let set = this.#listeners.get(event);
    if (!set) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener as (payload: never) => void);
    return () => set.delete(listener as (payload: never) => void);
  }

  /**
   * Asks the portal for the way to a resource. Resolves once the gateway has been told about this
   * device; also emitted as `connection_details`. Rejects with PortalRequestError (`reason`
   * `not_found`, `offline` — the portal then pushes details when a gateway comes — , `timeout`,
   * `not_connected`).
   */
  /** `dns`: for a `dns` resource, the name asked for and the proxy addresses the stub answered with. */
  async requestConnection(
    resourceId: string,
    timeoutMs = 10_000,
    dns?: { name: string; proxy_ipv4: string; proxy_ipv6: string },
  ): Promise<ConnectionDetails> {
    const response = await this.#channel.push(
      "request_connection",
      { resource_id: resourceId, ...(dns ? { dns } : {}) },
      timeoutMs,
    );
    const details = v.parse(ConnectionDetailsSchema, response);
    this.#emit("connection_details", details);
    return details;
  }

  #onEvent(event: string, payload: unknown): void {
    const schemas = protocol.client.fromPortal;
    if (!Object.hasOwn(schemas, event) || event === "invalid_token") {
      this.#log?.debug("ignoring unknown portal event", { event });
      return;
    }
    const name = event as Exclude<keyof typeof schemas, "invalid_token">;
    const parsed = v.safeParse(schemas[name], payload);
    if (!parsed.success) {
      this.#log?.warn("ignoring portal event with an unexpected payload", {
        event,
        issue: parsed.issues[0]?.message,
      });
      return;
    }
    if (name === "init") {
      this.#everJoined = true;
      this.#state = "connected";
    }
    this.#emit(name, parsed.output as PortalClientEvents[typeof name]);
  }

  #emit<E extends keyof PortalClientEvents>(event: E, payload: PortalClientEvents[E]): void {
    for (const listener of this.#listeners.get(event) ?? []) {
      try {
        (listener as Listener<E>)(payload);
      } catch (e) {
        this.#log?.error("portal event listener threw", { event, error: e });
      }
    }
  }
}
