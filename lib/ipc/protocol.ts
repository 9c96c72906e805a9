// The protocol is this one table: every method with its access level and its request and response
// schemas. The daemon's handlers and the client's typed calls are both derived from it.
import * as v from "valibot";

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

/**
 * How the kernel limits who sends into the tunnel (docs/security.md, "Session scope"):
 * `system`: every process; `user`: the owner's processes and root's; `app`: the owner's processes
 * inside one cgroup (v2), and root's.
 */
export const SessionScope = v.picklist(["system", "user", "app"]);
export type SessionScope = v.InferOutput<typeof SessionScope>;

/** A cgroup v2 path relative to the hierarchy's root: plain names only, no `..`, bounded. */
export const CgroupPath = v.pipe(
  v.string(),
  v.maxLength(1024, "the cgroup path is longer than 1024 characters"),
  v.regex(
    /^(?!.*(?:^|\/)\.{1,2}(?:\/|$))[A-Za-z0-9_.@:+-]{1,255}(?:\/[A-Za-z0-9_.@:+-]{1,255}){0,31}$/,
    "a cgroup path is names of letters, digits and _.@:+- joined by '/', relative to the cgroup v2 root (e.g. user.slice/user-1000.slice/user@1000.service/app.slice/firezone-firefox.scope), without '.' or '..'",
  ),
);

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
  type: v.picklist(["cidr", "ip", "dns", "internet"]),
  address: v.string(),
  site: v.optional(v.object({ id: v.string(), name: v.string() })),
  gatewayStatus: v.optional(v.picklist(["unknown", "connecting", "online", "offline"])),
});

/** Most resources in one page; a page also stops before its frame passes PAGE_BYTES. */
export const MAX_PAGE_ITEMS = 5000;
/** Half the 1 MiB frame cap, so a page frame never comes near it whatever the names hold. */
export const PAGE_BYTES = 512 * 1024;

/**
 * One page of the resource list, sorted by name. Every page of one read comes from the same list
 * (`version`); a `next` cursor whose list is no longer kept starts over at the first page of the
 * current list, which the caller sees as a different `version`.
 */
export const ResourcePageSchema = v.object({
  resources: v.array(ResourceSchema),
  version: v.number(),
  total: v.number(),
  next: v.optional(v.string()),
});
export type ResourcePage = v.InferOutput<typeof ResourcePageSchema>;
/** The Internet Resource (full tunnel): the user's switch and what the session does with it. */
export const InternetResourceSchema = v.object({
  /** The user's switch, kept in the daemon's state dir across restarts. */
  enabled: v.boolean(),
  /** While on, traffic to the local network stays direct (docs/internet-resource.md says what counts). */
  allowLan: v.boolean(),
  /** The portal offers this actor an Internet Resource now. */
  available: v.boolean(),
  /** All traffic is routed into the tunnel now: enabled, available and the tunnel is up. */
  active: v.boolean(),
});

/** Who signed the session in; absent while signed out and in service mode. */
export const OwnerSchema = v.object({ uid: v.number(), user: v.string() });

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
  /** Problems that did not stop the session, one sentence each: skipped resources, dropped allowed IPs, routes narrowed or refused. Capped. */
  warnings: v.optional(v.array(v.string())),
  internetResource: v.optional(InternetResourceSchema),
  /** While the DNS stub runs: how the system's resolver points at it, its addresses, its upstreams. */
  dnsMode: v.optional(v.picklist(["systemd-resolved", "resolv-conf", "off"])),
  dnsServers: v.optional(v.array(v.string())),
  dnsUpstreams: v.optional(v.array(v.string())),
  /** The last session reset (network changed, woke from sleep, SIGHUP) and when (ISO 8601). */
  lastReset: v.optional(v.object({ cause: v.string(), at: v.string() })),
  /** While a reset's reconnection is under way: its cause, shown as "reconnecting (network changed)". */
  reconnectCause: v.optional(v.string()),
  /** The portal's search domains, applied by the resolver (resolved's link domains, resolv.conf's search). */
  dnsSearchDomains: v.optional(v.array(v.string())),
  owner: v.optional(OwnerSchema),
  /** The scope in force (or to be applied at the next tunnel), and for `app` the cgroup. */
  scope: v.optional(SessionScope),
  scopeCgroup: v.optional(v.string()),
});

export const EventSchema = v.variant("kind", [
  v.object({ kind: v.literal("status"), status: StatusSchema }),
  /** The list changed: read it with `resources` (paged); `version` names the new list. */
  v.object({ kind: v.literal("resources_changed"), version: v.number(), total: v.number() }),
]);

// Diagnostics (docs/troubleshooting.md): the daemon's view of what is broken, its recent log for
// members (who cannot read /var/log/firezoned), and the daemon's parts of a debug bundle.

/** Version of the JSON shapes printed by `firezonectl doctor --json`, `logs --json` and the bundle's manifest. */
export const DIAGNOSTICS_SCHEMA_VERSION = 1;

/** One check of `doctor`: `skip` means it does not apply here (and does not fail the run). */
export const CheckSchema = v.object({
  id: v.string(),
  title: v.string(),
  status: v.picklist(["pass", "fail", "skip"]),
  detail: v.string(),
  /** On failure: the exact command (or setting) that fixes it. */
  fix: v.optional(v.string()),
});
export type Check = v.InferOutput<typeof CheckSchema>;

/** One line of the daemon's log; `seq` grows by one per line since the daemon started. */
export const LogLineSchema = v.object({ seq: v.number(), time: v.string(), text: v.string() });
export type LogLine = v.InferOutput<typeof LogLineSchema>;

/** Most lines in one `logs` page; a page also stops before its lines pass LOG_PAGE_BYTES. */
export const MAX_LOG_PAGE_LINES = 2000;
export const LOG_PAGE_BYTES = 256 * 1024;
/** Longest a `logs` request may wait for a new line (`--follow` asks again after each answer). */
export const MAX_LOG_WAIT_MS = 25_000;

export const LogPageSchema = v.object({
  lines: v.array(LogLineSchema),
  /** Pass as `after` to read on; equal to the last line's seq, or the `after` given when none came. */
  last: v.number(),
  /** More lines are waiting beyond this page. */
  more: v.boolean(),
  /** Lines between `after` and the first one returned were already dropped from the daemon's memory. */
  gap: v.boolean(),
});
export type LogPage = v.InferOutput<typeof LogPageSchema>;

/** A named text of the debug bundle (routes, rules, DNS, ...), already redacted by the daemon. */
export const DebugSectionSchema = v.object({ name: v.string(), text: v.string() });
export type DebugSection = v.InferOutput<typeof DebugSectionSchema>;
/** The daemon's sections of one bundle stay under this, far below the frame cap. */
export const DEBUG_INFO_BYTES = 512 * 1024;

// Diagnostics are redacted by the daemon and name no secret: any member may read them.
export const diagnosticMethods = {
  /** The checks only the daemon can run: its portal reachability, routes, rp_filter, DNS, TUN, WireGuard. */
  diagnose: {
    tier: "member",
    mutates: false,
    params: Empty,
    result: v.object({ checks: v.array(CheckSchema) }),
  },
  /** A page of the daemon's recent log, from `after` (a seq) or from `sinceMs` (epoch ms); may wait for one. */
  logs: {
    tier: "member",
    mutates: false,
    params: v.strictObject({
      after: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
      sinceMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
      limit: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(MAX_LOG_PAGE_LINES))),
      /** Wait up to this long for a line after `after` when none is there yet (`--follow`). */
      waitMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(MAX_LOG_WAIT_MS))),
    }),
    result: LogPageSchema,
  },
  /** The daemon's parts of a debug bundle: interface, routes, rules, DNS state, configuration; redacted. */
  debug_info: {
    tier: "member",
    mutates: false,
    params: Empty,
    result: v.object({ sections: v.array(DebugSectionSchema) }),
  },
} as const;

/** The keys of firezoned.conf, so clients can complete and check them; lib/daemon/config_keys.ts has one row each. */
export const SETTING_KEYS = [
  "portal_url",
  "allow_insecure_portal",
  "ca_file",
  "log_level",
  "internet_resource",
  "allow_lan",
  "dns_control",
  "default_scope",
  "read_group",
] as const;
export type SettingKey = (typeof SETTING_KEYS)[number];

/** When a change to a key of firezoned.conf takes effect (docs/configuration.md). */
export const SettingApplies = v.picklist(["live", "reconnect", "restart"]);

/** One key of firezoned.conf: what the file says, what the daemon uses, and why they may differ. */
export const SettingSchema = v.object({
  key: v.string(),
  /** As written in the file; null when the file does not set it. */
  value: v.nullable(v.string()),
  /** What the running daemon uses now; null when nothing (no portal URL, no ca_file). */
  effective: v.nullable(v.string()),
  source: v.picklist(["file", "environment", "default"]),
  description: v.string(),
  applies: SettingApplies,
  /** For keys that need a restart (or a reconnect): why. */
  note: v.optional(v.string()),
});
export type Setting = v.InferOutput<typeof SettingSchema>;
const SettingKeyParam = v.pipe(v.string(), v.regex(/^[a-z_]{1,64}$/, "a key is lower case letters and _"));

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
