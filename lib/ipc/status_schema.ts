// What `status` answers and events carry: the session's state, scope, owner and Internet Resource.
import * as v from "valibot";

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

/** `not_configured`: the daemon has no usable portal URL; `lastError` says which file and key to set. */
export const SessionState = v.picklist([
  "not_configured",
  "signed_out",
  "connecting",
  "connected",
  "reconnecting",
]);

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
