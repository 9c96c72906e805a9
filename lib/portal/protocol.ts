// The portal protocol is this one table: for each topic, the events each side may send and the
// schema of their payloads. lib/portal (the daemon's client), devstack/portal and devstack/gateway
// all derive their types from it; docs/portal-protocol.md explains it in prose.
import * as v from "valibot";

/** Every frame on the socket, both ways: a Phoenix channel message in its JSON object form. */
export const FrameSchema = v.object({
  topic: v.string(),
  event: v.string(),
  payload: v.unknown(),
  ref: v.nullish(v.string()),
});
export type Frame = v.InferOutput<typeof FrameSchema>;

/** Close codes the portal uses; 4001 means "do not reconnect with this token". */
export const CLOSE_INVALID_TOKEN = 4001;
export const CLOSE_HEARTBEAT_TIMEOUT = 4000;
export const CLOSE_REPLACED = 4002;

/** Why a token stopped working; sent in `invalid_token` and in join error replies. */
export const TokenProblem = v.picklist(["invalid", "expired", "revoked"]);
export type TokenProblem = v.InferOutput<typeof TokenProblem>;

const Base64Key = v.pipe(
  v.string(),
  v.regex(/^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/, "not a WireGuard key"),
);
const Id = v.pipe(v.string(), v.minLength(1), v.maxLength(128));

export const ResourceSchema = v.object({
  id: Id,
  name: v.string(),
  type: v.picklist(["cidr", "ip"]),
  address: v.string(),
  site: v.object({ id: Id, name: v.string() }),
});

export const InterfaceSchema = v.object({
  ipv4: v.string(),
  ipv6: v.string(),
  upstream_dns: v.optional(v.array(v.string()), []),
});
export type InterfaceConfig = v.InferOutput<typeof InterfaceSchema>;

export const ConnectionDetailsSchema = v.object({
  resource_id: Id,
  site_id: Id,
  gateway_id: Id,
  gateway_public_key: Base64Key,
  /** `ip:port`, IPv6 as `[addr]:port`. */
  gateway_endpoint: v.string(),
  /** The gateway's own tunnel addresses. */
  gateway_ipv4: v.string(),
  gateway_ipv6: v.string(),
  /** Destinations to route to this gateway for this resource (CIDR strings). */
  allowed_ips: v.array(v.string()),
});
export type ConnectionDetails = v.InferOutput<typeof ConnectionDetailsSchema>;

/** What a client or gateway says about itself in `phx_join`. */
export const ClientJoinSchema = v.object({
  public_key: Base64Key,
  /** A stable device id (kept in the daemon's state dir); the portal keeps the device's addresses by it. */
  external_id: v.pipe(v.string(), v.minLength(8), v.maxLength(128)),
  name: v.optional(v.pipe(v.string(), v.maxLength(256))),
  os: v.optional(v.pipe(v.string(), v.maxLength(64))),
  version: v.optional(v.pipe(v.string(), v.maxLength(64))),
});
export type ClientJoin = v.InferOutput<typeof ClientJoinSchema>;

export const GatewayJoinSchema = v.object({
  public_key: Base64Key,
  external_id: v.pipe(v.string(), v.minLength(8), v.maxLength(128)),
  name: v.optional(v.pipe(v.string(), v.maxLength(256))),
  /** Where clients reach this gateway's WireGuard socket, `ip:port`. */
  endpoint: v.string(),
});
export type GatewayJoin = v.InferOutput<typeof GatewayJoinSchema>;

export const InitSchema = v.object({
  interface: InterfaceSchema,
  resources: v.array(ResourceSchema),
  account: v.object({ id: Id, slug: v.string(), name: v.string() }),
  actor: v.object({ id: Id, name: v.string(), type: v.picklist(["user", "service_account"]) }),
});
export type Init = v.InferOutput<typeof InitSchema>;

/** A client as a gateway sees it: its key, its tunnel addresses. */
export const GatewayClientSchema = v.object({
  id: Id,
  public_key: Base64Key,
  ipv4: v.string(),
  ipv6: v.string(),
});

/** A resource as a gateway sees it: only what it needs to forward and filter. */
export const GatewayResourceSchema = v.object({
  id: Id,
  type: v.picklist(["cidr", "ip"]),
  address: v.string(),
});

export const AllowAccessSchema = v.object({
  reference: v.nullish(v.string()),
  client: GatewayClientSchema,
  resource: GatewayResourceSchema,
});

export const GatewayInitSchema = v.object({
  interface: v.object({ ipv4: v.string(), ipv6: v.string() }),
  gateway: v.object({ id: Id, name: v.string() }),
  site: v.object({ id: Id, name: v.string() }),
  /** Every flow currently authorized through this gateway; the gateway replaces its state with it. */
  access: v.array(v.object({ client: GatewayClientSchema, resources: v.array(GatewayResourceSchema) })),
});
export type GatewayInit = v.InferOutput<typeof GatewayInitSchema>;

const Empty = v.object({});
const Reason = v.object({ reason: v.string() });

/** Events the portal pushes on each topic, and what a member may push (with the reply it gets). */
export const protocol = {
  client: {
    fromPortal: {
      init: InitSchema,
      config_changed: v.object({ interface: InterfaceSchema }),
      resource_created_or_updated: ResourceSchema,
      resource_deleted: v.object({ id: Id }),
      connection_details: ConnectionDetailsSchema,
      invalid_token: v.object({ reason: TokenProblem }),
    },
    fromMember: {
      phx_join: { payload: ClientJoinSchema, reply: Empty },
      request_connection: { payload: v.object({ resource_id: Id }), reply: ConnectionDetailsSchema },
    },
  },
  gateway: {
    fromPortal: {
      init: GatewayInitSchema,
      allow_access: AllowAccessSchema,
      reject_access: v.object({ client_id: Id, resource_id: Id }),
      invalid_token: v.object({ reason: TokenProblem }),
    },
    fromMember: {
      phx_join: { payload: GatewayJoinSchema, reply: Empty },
      access_allowed: { payload: v.object({ reference: v.string() }), reply: Empty },
      /** The last `init` is in force: clients may be sent this gateway's details now. */
      init_done: { payload: Empty, reply: Empty },
    },
  },
  phoenix: {
    fromPortal: {},
    fromMember: { heartbeat: { payload: Empty, reply: Empty } },
  },
} as const;

export const ReplySchema = v.object({
  status: v.picklist(["ok", "error"]),
  response: v.optional(v.unknown(), {}),
});
export const ErrorReplySchema = Reason;

export type ClientEvents = typeof protocol.client.fromPortal;
export type ClientEventName = keyof ClientEvents;
export type ClientEventPayload<E extends ClientEventName> = v.InferOutput<ClientEvents[E]>;
export type GatewayEvents = typeof protocol.gateway.fromPortal;
export type GatewayEventName = keyof GatewayEvents;
export type GatewayEventPayload<E extends GatewayEventName> = v.InferOutput<GatewayEvents[E]>;

/** Parses a text frame; `undefined` for anything that is not a well-formed frame. */
export function parseFrame(text: string): Frame | undefined {
  try {
    const r = v.safeParse(FrameSchema, JSON.parse(text));
    return r.success ? r.output : undefined;
  } catch {
    return undefined;
  }
}

export function encodeFrame(
  topic: string,
  event: string,
  payload: unknown,
  ref: string | null = null,
): string {
  return JSON.stringify({ topic, event, payload, ref });
}
