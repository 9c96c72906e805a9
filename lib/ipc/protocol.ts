// The protocol is this one table: every method with its access level and its request and response
// schemas. The daemon's handlers and the client's typed calls are both derived from it.
import * as v from "valibot";
import { Empty } from "./_empty.ts";
import { diagnosticMethods } from "./diagnostic_methods.ts";
import { MAX_PAGE_ITEMS, ResourcePageSchema, type ResourceSchema } from "./resource_schema.ts";
import { SettingKeyParam, SettingSchema } from "./setting_schema.ts";
import {
  CgroupPath,
  type EventSchema,
  InternetResourceSchema,
  SessionScope,
  StatusSchema,
} from "./status_schema.ts";

/** Bumped on incompatible changes; a client and daemon of different versions refuse each other clearly. */
// 2: `resources` is paged and the `resources_changed` event carries a version instead of the list.
// 3: callers have a tier (hello.tier) instead of a role; status names the session's owner and scope.
export const PROTOCOL_VERSION = 3;

/**
 * Who may call a method, lowest first (docs/ipc.md, "Tiers"). A caller's tier is the highest that
 * applies: `admin` is root; `owner` is the uid that signed the session in; `member` is any member
 * of group `firezone`; `reader` is a member of the optional read-only group (status only).
 */
export const TIERS = ["reader", "member", "owner", "admin"] as const;
export type Tier = (typeof TIERS)[number];

/** The tiers a connection can hold for good; `owner` comes and goes with the session. */
export type BaseTier = Exclude<Tier, "owner">;

/** Longest sign-in token accepted (bytes of visible ASCII). */
export const MAX_TOKEN_LENGTH = 8192;

export const methods = {
  status: { tier: "reader", mutates: false, params: Empty, result: StatusSchema },
  version: {
    tier: "reader",
    mutates: false,
    params: Empty,
    result: v.object({ daemonVersion: v.string(), protocol: v.number() }),
  },
  // Events carry status and the resource list's version and size, never the list itself.
  subscribe: {
    tier: "reader",
    mutates: false,
    params: Empty,
    result: v.object({ subscribed: v.literal(true) }),
  },
  resources: {
    tier: "member",
    mutates: false,
    params: v.strictObject({
      /** From the previous page's `next`; absent for the first page. */
      cursor: v.optional(v.pipe(v.string(), v.maxLength(64))),
      limit: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(MAX_PAGE_ITEMS))),
    }),
    result: ResourcePageSchema,
  },
  // Any member may start a session; replacing one that runs is for its owner (or root).
  sign_in: {
    tier: "member",
    whileSignedIn: "owner",
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
      /** The scope for this session; the configured default (default_scope) when absent. */
      scope: v.optional(SessionScope),
      cgroup: v.optional(CgroupPath),
    }),
    result: StatusSchema,
  },
  sign_out: { tier: "owner", mutates: true, params: Empty, result: StatusSchema },
  /** Switches the Internet Resource (and its allow-LAN option); the choice survives restarts. */
  set_internet_resource: {
    tier: "owner",
    mutates: true,
    params: v.pipe(
      v.strictObject({ enabled: v.optional(v.boolean()), allowLan: v.optional(v.boolean()) }),
      v.check((p) => p.enabled !== undefined || p.allowLan !== undefined, "give enabled, allowLan or both"),
    ),
    result: InternetResourceSchema,
  },
  ...diagnosticMethods,

  /** firezoned.conf as the daemon reads it; the file is root's, its values hold no secret. */
  get_settings: {
    tier: "member",
    mutates: false,
    params: v.strictObject({ key: v.optional(SettingKeyParam) }),
    result: v.object({ file: v.string(), settings: v.array(SettingSchema) }),
  },
  /** Writes one key of firezoned.conf (null removes it), then reloads the configuration. */
  set_setting: {
    tier: "admin",
    mutates: true,
    params: v.strictObject({
      key: SettingKeyParam,
      value: v.nullable(v.pipe(v.string(), v.maxLength(4096))),
    }),
    result: v.object({ file: v.string(), setting: SettingSchema, message: v.string() }),
  },
  /** Changes who may send into the tunnel: the kernel's rules change in one transaction. */
  set_scope: {
    tier: "owner",
    mutates: true,
    params: v.pipe(
      v.strictObject({ scope: SessionScope, cgroup: v.optional(CgroupPath) }),
      v.check(
        (p) => (p.scope === "app") === (p.cgroup !== undefined),
        "scope app needs a cgroup (and only scope app takes one)",
      ),
    ),
    result: StatusSchema,
  },
} as const satisfies Record<string, MethodSpec>;

/**
 * One row of the table. `tier`: the lowest tier that may call the method. `whileSignedIn`: a
 * higher tier needed while a session exists (connecting, connected, reconnecting). `mutates`: the
 * call changes state (audited; refused in service mode unless admin; membership checked again).
 */
export interface MethodSpec {
  tier: Tier;
  whileSignedIn?: Tier;
  mutates: boolean;
  params: v.GenericSchema;
  result: v.GenericSchema;
}

export type Methods = typeof methods;
export type MethodName = keyof Methods;
export type Params<M extends MethodName> = v.InferOutput<Methods[M]["params"]>;
export type Result<M extends MethodName> = v.InferOutput<Methods[M]["result"]>;
export type Status = v.InferOutput<typeof StatusSchema>;
export type IpcResource = v.InferOutput<typeof ResourceSchema>;
export type InternetResourceStatus = v.InferOutput<typeof InternetResourceSchema>;
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
  /**
   * This connection's tier when it connected (`owner` when it owned the session then). Optional so
   * that a daemon of protocol 2 (which sent `role`) still parses and gets the clear version message.
   */
  tier: v.optional(v.picklist(TIERS)),
  pid: v.number(),
  /** What this caller may do now, so a client can grey out what it would be refused. */
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
