// The protocol is this one table: every method with its access level and its request and response
// schemas. The daemon's handlers and the client's typed calls are both derived from it.
import * as v from "valibot";

/** Bumped on incompatible changes; a client and daemon of different versions refuse each other clearly. */
export const PROTOCOL_VERSION = 1;

/** `read`: any allowed caller. `operate`: changes the session (refused in service mode unless admin). */
export type Access = "read" | "operate" | "admin";
export type Role = "admin" | "operator";

const Empty = v.strictObject({});

/** `not_configured`: the daemon has no usable portal URL; `lastError` says which file and key to set. */
export const SessionState = v.picklist([
  "not_configured",
  "signed_out",
  "connecting",
  "connected",
  "reconnecting",
]);

/** Longest sign-in token accepted (bytes of visible ASCII). */
export const MAX_TOKEN_LENGTH = 8192;

export const ResourceSchema = v.object({
  id: v.string(),
  name: v.string(),
  type: v.picklist(["cidr", "ip", "dns"]),
  address: v.string(),
  site: v.optional(v.object({ id: v.string(), name: v.string() })),
  gatewayStatus: v.optional(v.picklist(["unknown", "connecting", "online", "offline"])),
});

export const StatusSchema = v.object({
  state: SessionState,
  mode: v.picklist(["interactive", "service"]),
  daemonVersion: v.string(),
  protocol: v.number(),
  pid: v.number(),
  uptimeSeconds: v.number(),
  account: v.optional(v.string()),
  actor: v.optional(v.string()),
  addresses: v.optional(v.array(v.string())),
  interfaceName: v.optional(v.string()),
  resourceCount: v.number(),
  lastError: v.optional(v.string()),
  /** The portal's base URL as a web address (https://...), so a GUI can open its sign-in page. */
  portalUrl: v.optional(v.string()),
  /** Things the daemon did not apply as asked, one sentence each (a route refused or narrowed, ...). */
  warnings: v.optional(v.array(v.string())),
});

export const EventSchema = v.variant("kind", [
  v.object({ kind: v.literal("status"), status: StatusSchema }),
  v.object({ kind: v.literal("resources"), resources: v.array(ResourceSchema) }),
  v.object({ kind: v.literal("error"), code: v.string(), message: v.string() }),
]);

export const methods = {
  status: { access: "read", mutates: false, params: Empty, result: StatusSchema },
  version: {
    access: "read",
    mutates: false,
    params: Empty,
    result: v.object({ daemonVersion: v.string(), protocol: v.number() }),
  },
  subscribe: {
    access: "read",
    mutates: false,
    params: Empty,
    result: v.object({ subscribed: v.literal(true) }),
  },
  resources: {
    access: "read",
    mutates: false,
    params: Empty,
    result: v.object({ resources: v.array(ResourceSchema) }),
  },
  sign_in: {
    access: "operate",
    mutates: true,
    params: v.strictObject({
      token: v.pipe(
        v.string(),
        v.minLength(1, "token must not be empty"),
        v.maxLength(
          MAX_TOKEN_LENGTH,
          `token is longer than ${MAX_TOKEN_LENGTH} characters; is it really a token?`,
        ),
        v.regex(
          /^[\x21-\x7e]+$/,
          "token holds spaces, control characters or non-ASCII bytes; a token is one word of visible ASCII. Copy it again",
        ),
      ),
      accountSlug: v.optional(v.pipe(v.string(), v.maxLength(256))),
      actorName: v.optional(v.pipe(v.string(), v.maxLength(256))),
    }),
    result: StatusSchema,
  },
  sign_out: { access: "operate", mutates: true, params: Empty, result: StatusSchema },
} as const satisfies Record<
  string,
  { access: Access; mutates: boolean; params: v.GenericSchema; result: v.GenericSchema }
>;

export type Methods = typeof methods;
export type MethodName = keyof Methods;
export type Params<M extends MethodName> = v.InferOutput<Methods[M]["params"]>;
export type Result<M extends MethodName> = v.InferOutput<Methods[M]["result"]>;
export type Status = v.InferOutput<typeof StatusSchema>;
export type IpcResource = v.InferOutput<typeof ResourceSchema>;
export type DaemonEvent = v.InferOutput<typeof EventSchema>;

export function isMethodName(name: unknown): name is MethodName {
  return typeof name === "string" && Object.hasOwn(methods, name);
}

// Envelopes on the wire. The daemon speaks first with `hello` (or `refused`, then closes).
export const RequestEnvelope = v.strictObject({
  type: v.literal("request"),
  id: v.pipe(v.number(), v.integer(), v.minValue(0)),
  method: v.pipe(v.string(), v.maxLength(64)),
  params: v.optional(v.unknown()),
});

export const HelloSchema = v.object({
  type: v.literal("hello"),
  protocol: v.number(),
  daemonVersion: v.string(),
  role: v.picklist(["admin", "operator"]),
  pid: v.number(),
  /** What this caller may do, so a client can grey out what it would be refused. */
  allowed: v.array(v.string()),
});
export type Hello = v.InferOutput<typeof HelloSchema>;

/** `membership` explains a permission_denied (see membership.ts); clients check it before use. */
export const ErrorBody = v.object({
  code: v.string(),
  message: v.string(),
  membership: v.optional(v.unknown()),
});

export const ServerMessage = v.variant("type", [
  HelloSchema,
  v.object({ type: v.literal("refused"), error: ErrorBody }),
  v.object({ type: v.literal("response"), id: v.number(), ok: v.literal(true), result: v.unknown() }),
  v.object({
    type: v.literal("response"),
    id: v.nullable(v.number()),
    ok: v.literal(false),
    error: ErrorBody,
  }),
  v.object({ type: v.literal("event"), event: v.unknown() }),
]);
export type ServerMessage = v.InferOutput<typeof ServerMessage>;
