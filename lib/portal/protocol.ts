// The portal protocol is this one table: for each topic, the events each side may send and the
// schema of their payloads. lib/portal (the daemon's client), devstack/portal and devstack/gateway
// all derive their types from it; docs/portal-protocol.md explains it in prose.
import * as v from "valibot";
import {
  type DnsPattern,
  displayText,
  type Endpoint,
  type IpAddr,
  type IpPrefix,
  parseDnsPattern,
  parseEndpointValue,
  parseIpAddr,
  parseIpPrefix,
  parseSearchDomain,
  parseText,
  parseWgKey,
  prefixContains,
  type SearchDomain,
  TUNNEL_POOL_V4,
  TUNNEL_POOL_V6,
  type WgKey,
} from "../util/index.ts";

/** Every frame on the socket, both ways: a Phoenix channel message in its JSON object form. */
export const FrameSchema = v.object({
  topic: v.pipe(v.string(), v.maxLength(64)),
  event: v.pipe(v.string(), v.maxLength(64)),
  payload: v.unknown(),
  ref: v.nullish(v.pipe(v.string(), v.maxLength(64))),
});
export type Frame = v.InferOutput<typeof FrameSchema>;

/** Close codes the portal uses; 4001 means "do not reconnect with this token". */
export const CLOSE_INVALID_TOKEN = 4001;
export const CLOSE_HEARTBEAT_TIMEOUT = 4000;
export const CLOSE_REPLACED = 4002;

/** Why a token stopped working; sent in `invalid_token` and in join error replies. */
export const TokenProblem = v.picklist(["invalid", "expired", "revoked"]);
export type TokenProblem = v.InferOutput<typeof TokenProblem>;

/**
 * Bounds on everything the portal sends. A real account has far fewer resources than `resources`
 * (20,000 are measured in bench/routes.ts); the caps exist so that no single message can make the
 * daemon allocate without limit.
 */
export const LIMITS = {
  id: 128,
  name: 256,
  slug: 128,
  resources: 100_000,
  allowedIps: 256,
  upstreamDns: 16,
  reason: 256,
} as const;

/** A string schema whose output is what `parse` returns; its error message becomes the issue. */
function via<T>(parse: (text: string) => T) {
  return v.pipe(
    v.string(),
    v.rawTransform<string, T>(({ dataset, addIssue, NEVER }) => {
      try {
        return parse(dataset.value);
      } catch (err) {
        addIssue({ message: (err as Error).message });
        return NEVER;
      }
    }),
  );
}

const text = (what: string, max: number) => via((s) => parseText(s, { what, max }));
const Id = text("id", LIMITS.id);
const Name = text("name", LIMITS.name);
const WgKeySchema = via<WgKey>(parseWgKey);
const IpAddrSchema = via<IpAddr>(parseIpAddr);
const EndpointSchema = via<Endpoint>(parseEndpointValue);
const Site = v.object({ id: Id, name: Name });

/** The resource types this client routes today; the others are parsed and reported, not routed. */
export const ROUTED_TYPES = ["cidr", "ip", "internet"] as const;

const ResourceVariant = v.variant("type", [
  v.object({
    id: Id,
    name: Name,
    type: v.literal("cidr"),
    address: via<IpPrefix>(parseIpPrefix),
    site: Site,
  }),
  v.object({ id: Id, name: Name, type: v.literal("ip"), address: IpAddrSchema, site: Site }),
  v.object({
    id: Id,
    name: Name,
    type: v.literal("dns"),
    address: via<DnsPattern>(parseDnsPattern),
    site: Site,
  }),
  v.object({ id: Id, name: Name, type: v.literal("internet"), site: Site }),
]);
/** A resource as the portal describes it, with typed addresses. */
export type PortalResource = v.InferOutput<typeof ResourceVariant>;

/** A resource that could not be used, and why (id and name only when they are safe to show). */
export interface SkippedResource {
  id?: string;
  name?: string;
  reason: string;
}
export type ResourceEntry = { ok: true; resource: PortalResource } | { ok: false; skipped: SkippedResource };

function issueText(issues: readonly v.BaseIssue<unknown>[]): string {
  const issue = issues[0];
  const where = issue?.path?.map((p) => String(p.key)).join(".");
  return displayText(`${where ? `${where}: ` : ""}${issue?.message ?? "invalid"}`, LIMITS.reason);
}

/**
 * Parses one resource on its own, so that one bad or unknown resource costs only itself. Never
 * throws: a failure becomes a SkippedResource whose fields are bounded and safe to show.
 */
export function parseResourceEntry(raw: unknown): ResourceEntry {
  const parsed = v.safeParse(ResourceVariant, raw);
  if (parsed.success) return { ok: true, resource: parsed.output };
  const o = (typeof raw === "object" && raw !== null ? raw : {}) as Record<string, unknown>;
  const skipped: SkippedResource = { reason: issueText(parsed.issues) };
  const id = v.safeParse(Id, o.id);
  const name = v.safeParse(Name, o.name);
  if (id.success) skipped.id = id.output;
  if (name.success) skipped.name = name.output;
  if (typeof o.type === "string" && !["cidr", "ip", "dns", "internet"].includes(o.type))
    skipped.reason = `type "${displayText(o.type, 32)}" is not known to this client`;
  return { ok: false, skipped };
}

const ResourceEntrySchema = v.pipe(v.unknown(), v.transform(parseResourceEntry));

const InterfaceFields = v.object({
  ipv4: IpAddrSchema,
  ipv6: IpAddrSchema,
  upstream_dns: v.optional(v.pipe(v.array(IpAddrSchema), v.maxLength(LIMITS.upstreamDns)), []),
  /** Upstream Firezone's portal sends one optional search domain (null or absent: none). */
  search_domain: v.nullish(v.unknown()),
});
export type InterfaceConfig = Omit<v.InferOutput<typeof InterfaceFields>, "search_domain"> & {
  search_domain?: SearchDomain;
};
export type InterfaceWire = Omit<v.InferInput<typeof InterfaceFields>, "search_domain"> & {
  search_domain?: string | null;
};
/**
 * `warning`: a part that was left out while the rest is used (a search domain that is not a domain
 * name: the tunnel works without it).
 */
export type InterfaceEntry =
  | { ok: true; value: InterfaceConfig; warning?: string }
  | { ok: false; reason: string };

/**
 * Interface addresses must come from the pools DESIGN.md reserves: an address the portal picks
 * elsewhere (say 198.51.100.7) would make the kernel treat that remote host as this machine.
 */
export function parseInterface(raw: unknown): InterfaceEntry {
  const parsed = v.safeParse(InterfaceFields, raw);
  if (!parsed.success) return { ok: false, reason: issueText(parsed.issues) };
  const { ipv4, ipv6 } = parsed.output;
  if (ipv4.includes(":") || !prefixContains(TUNNEL_POOL_V4, ipv4))
    return { ok: false, reason: `the IPv4 address ${ipv4} is outside ${TUNNEL_POOL_V4}` };
  if (!ipv6.includes(":") || !prefixContains(TUNNEL_POOL_V6, ipv6))
    return { ok: false, reason: `the IPv6 address ${ipv6} is outside ${TUNNEL_POOL_V6}` };
  const { search_domain: rawSearch, ...rest } = parsed.output;
  if (rawSearch === undefined || rawSearch === null || rawSearch === "") return { ok: true, value: rest };
  try {
    if (typeof rawSearch !== "string")
      throw new Error(
        `search_domain is not a string but ${Array.isArray(rawSearch) ? "a list" : `a ${typeof rawSearch}`}`,
      );
    return { ok: true, value: { ...rest, search_domain: parseSearchDomain(rawSearch) } };
  } catch (err) {
    return { ok: true, value: rest, warning: displayText((err as Error).message, LIMITS.reason) };
  }
}
const InterfaceSchema = v.pipe(v.unknown(), v.transform(parseInterface));

/** Splits a list into the prefixes that parse and (bounded, escaped) texts of those that do not. */
function splitPrefixes(list: unknown[]): { good: IpPrefix[]; bad: string[] } {
  const good: IpPrefix[] = [];
  const bad: string[] = [];
  for (const item of list) {
    try {
      if (typeof item !== "string") throw new Error(`not a string: ${typeof item}`);
      const p = parseIpPrefix(item);
      if (!good.includes(p)) good.push(p);
    } catch (err) {
      bad.push(displayText((err as Error).message, LIMITS.reason));
    }
  }
  return { good, bad };
}

export const ConnectionDetailsSchema = v.pipe(
  v.object({
    resource_id: Id,
    site_id: Id,
    gateway_id: Id,
    gateway_public_key: WgKeySchema,
    /** `ip:port`, IPv6 as `[addr]:port`. */
    gateway_endpoint: EndpointSchema,
    /** The gateway's own tunnel addresses. */
    gateway_ipv4: IpAddrSchema,
    gateway_ipv6: IpAddrSchema,
    /** Destinations to route to this gateway for this resource (CIDR strings). */
    allowed_ips: v.pipe(v.array(v.unknown()), v.maxLength(LIMITS.allowedIps)),
  }),
  v.transform((d) => {
    const { good, bad } = splitPrefixes(d.allowed_ips);
    // One bad prefix costs only itself: the session applies the rest and reports these.
    return { ...d, allowed_ips: good, rejected_allowed_ips: bad };
  }),
);
export type ConnectionDetails = v.InferOutput<typeof ConnectionDetailsSchema>;
/** What the portal sends, before parsing (the devstack portal builds these). */
export type ConnectionDetailsWire = v.InferInput<typeof ConnectionDetailsSchema>;

/** What a client or gateway says about itself in `phx_join`. */
export const ClientJoinSchema = v.object({
  public_key: WgKeySchema,
  /** A stable device id (kept in the daemon's state dir); the portal keeps the device's addresses by it. */
  external_id: v.pipe(v.string(), v.minLength(8), v.maxLength(128)),
  name: v.optional(Name),
  os: v.optional(v.pipe(v.string(), v.maxLength(64))),
  version: v.optional(v.pipe(v.string(), v.maxLength(64))),
});
export type ClientJoin = v.InferInput<typeof ClientJoinSchema>;

export const GatewayJoinSchema = v.object({
  public_key: WgKeySchema,
  external_id: v.pipe(v.string(), v.minLength(8), v.maxLength(128)),
  name: v.optional(Name),
  /** Where clients reach this gateway's WireGuard socket, `ip:port`. */
  endpoint: EndpointSchema,
});
export type GatewayJoin = v.InferInput<typeof GatewayJoinSchema>;

export const InitSchema = v.object({
  interface: InterfaceSchema,
  /** Parsed one by one: a resource that fails is skipped and reported, the others are applied. */
  resources: v.pipe(
    v.array(v.unknown()),
    v.maxLength(LIMITS.resources),
    v.transform((list) => list.map(parseResourceEntry)),
  ),
  account: v.object({ id: Id, slug: text("account slug", LIMITS.slug), name: Name }),
  actor: v.object({ id: Id, name: Name, type: v.picklist(["user", "service_account"]) }),
});
export type Init = v.InferOutput<typeof InitSchema>;
export type InitWire = v.InferInput<typeof InitSchema>;

/** A client as a gateway sees it: its key, its tunnel addresses. */
export const GatewayClientSchema = v.object({
  id: Id,
  public_key: WgKeySchema,
  ipv4: v.string(),
  ipv6: v.string(),
});

/**
 * For a `dns` resource: one name a client asked for and the proxy addresses its stub answered with.
 * The gateway resolves the name itself and maps that client's proxy addresses to the real ones.
 */
export const GatewayDnsMappingSchema = v.object({
  name: v.pipe(v.string(), v.maxLength(253), v.regex(/^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/, "not a host name")),
  proxy_ipv4: v.pipe(
    v.string(),
    v.regex(/^100\.(9[6-9]|1[01][0-9]|12[0-7])\.\d{1,3}\.\d{1,3}$/, "not a proxy address"),
  ),
  proxy_ipv6: v.pipe(
    v.string(),
    v.regex(/^fd00:2021:1111:8000::[0-9a-f]{1,4}(:[0-9a-f]{1,4})?$/, "not a proxy address"),
  ),
});
export type GatewayDnsMapping = v.InferOutput<typeof GatewayDnsMappingSchema>;

/** A resource as a gateway sees it: only what it needs to forward and filter. */
export const GatewayResourceSchema = v.object({
  id: Id,
  /**
   * `internet` (address empty): anywhere public, for the client's Internet Resource. `dns`:
   * `address` is the resource's name pattern; each mapped name comes as its own entry with `dns`.
   */
  type: v.picklist(["cidr", "ip", "internet", "dns"]),
  address: v.string(),
  dns: v.optional(GatewayDnsMappingSchema),
});

export const AllowAccessSchema = v.object({
  reference: v.nullish(v.string()),
  client: GatewayClientSchema,
  resource: GatewayResourceSchema,
});

export const GatewayInitSchema = v.object({
  interface: v.object({ ipv4: v.string(), ipv6: v.string() }),
  gateway: v.object({ id: Id, name: Name }),
  site: Site,
  /** Every flow currently authorized through this gateway; the gateway replaces its state with it. */
  access: v.array(v.object({ client: GatewayClientSchema, resources: v.array(GatewayResourceSchema) })),
});
export type GatewayInit = v.InferOutput<typeof GatewayInitSchema>;

const Empty = v.object({});
const Reason = v.object({ reason: v.pipe(v.string(), v.maxLength(LIMITS.reason)) });

/** Events the portal pushes on each topic, and what a member may push (with the reply it gets). */
export const protocol = {
  client: {
    fromPortal: {
      init: InitSchema,
      config_changed: v.object({ interface: InterfaceSchema }),
      resource_created_or_updated: ResourceEntrySchema,
      resource_deleted: v.object({ id: Id }),
      connection_details: ConnectionDetailsSchema,
      invalid_token: v.object({ reason: TokenProblem }),
    },
    fromMember: {
      phx_join: { payload: ClientJoinSchema, reply: Empty },
      /** `dns`: for a `dns` resource, the name asked for and the proxy addresses the stub gave it. */
      request_connection: {
        payload: v.object({ resource_id: Id, dns: v.optional(GatewayDnsMappingSchema) }),
        reply: ConnectionDetailsSchema,
      },
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
