// Who may call what: a caller's tier against the protocol table's row. The refusal says who may do
// it instead, with names the daemon established (group names, the owner's account), never text a
// peer sent.
import { FzError } from "../types/index.ts";
import { type BaseTier, type MethodName, type MethodSpec, methods, TIERS, type Tier } from "./protocol.ts";

/** What the tier check needs to know about the session, read at the moment of each call. */
export interface SessionView {
  /** Who signed the session in; null while nobody did (signed out, service mode). */
  owner: { uid: number; user: string } | null;
  /** A session exists: connecting, connected or reconnecting. */
  active: boolean;
  serviceMode: boolean;
}

export const NO_SESSION: SessionView = { owner: null, active: false, serviceMode: false };

/** The group names a refusal can point to. */
export interface TierGroups {
  member: string;
  reader?: string | null;
}

/** The caller's tier now: its tier at connect, raised to `owner` while it owns the session. */
export function tierOf(peer: { uid: number; tier: BaseTier }, session: SessionView): Tier {
  if (peer.tier === "member" && session.owner?.uid === peer.uid) return "owner";
  return peer.tier;
}

export function atLeast(have: Tier, need: Tier): boolean {
  return TIERS.indexOf(have) >= TIERS.indexOf(need);
}

/**
 * The tier a call needs now. While nobody owns a session (signed out), the owner's methods are open
 * to members: there is no one to protect, and the next member to sign in becomes the owner.
 */
export function requiredTier(method: MethodName, session: SessionView): Tier {
  const spec: MethodSpec = methods[method];
  let need = session.active && spec.whileSignedIn ? spec.whileSignedIn : spec.tier;
  if (need === "owner" && !session.owner) need = session.active ? "admin" : "member";
  return need;
}

export function mayCall(
  method: MethodName,
  peer: { uid: number; tier: BaseTier },
  session: SessionView,
): boolean {
  if (methods[method].mutates && session.serviceMode && peer.tier !== "admin") return false;
  return atLeast(tierOf(peer, session), requiredTier(method, session));
}

/** How a service-mode refusal names what the administrator manages. */
const SERVICE_WHAT: Partial<Record<MethodName, string>> = {
  sign_in: "sign-in and sign-out are",
  sign_out: "sign-in and sign-out are",
  set_internet_resource: "the Internet Resource switch is",
  set_scope: "the session's scope is",
};

/** Throws the refusal (`service_mode` or `permission_denied`) unless `peer` may call `method` now. */
export function checkTier(
  method: MethodName,
  peer: { uid: number; user: string; tier: BaseTier },
  session: SessionView,
  groups: TierGroups,
): void {
  const spec: MethodSpec = methods[method];
  if (spec.mutates && session.serviceMode && peer.tier !== "admin") {
    throw new FzError(
      "service_mode",
      `firezoned runs in service mode (a service-account token is configured), so ${SERVICE_WHAT[method] ?? `'${method}' is`} ` +
        "managed by the administrator. Ask root to change /etc/firezoned/token or FIREZONE_TOKEN.",
    );
  }
  const have = tierOf(peer, session);
  const need = requiredTier(method, session);
  if (atLeast(have, need)) return;
  throw new FzError("permission_denied", refusal(method, peer.user, have, need, session, groups));
}

function refusal(
  method: string,
  user: string,
  have: Tier,
  need: Tier,
  session: SessionView,
  groups: TierGroups,
): string {
  const you = `You are ${user}`;
  switch (need) {
    case "admin":
      return `'${method}' needs root. ${you}; run it with sudo.`;
    case "owner": {
      const owner = session.owner;
      const who = owner
        ? `${owner.user} (uid ${owner.uid}), who signed this session in,`
        : "the session's owner";
      // A session root signed in is root's alone.
      const orRoot = owner?.uid === 0 ? "" : " or root";
      const what =
        method === "sign_in"
          ? `A session is running; replacing it is for ${who}${orRoot}.`
          : `'${method}' is for ${who}${orRoot}.`;
      return `${what} ${you}. Ask ${owner?.user ?? "them"} to do it, or run it with sudo.`;
    }
    default:
      // need member, have reader.
      return (
        `'${method}' is for members of group '${groups.member}'. ${you}, in the read-only group ` +
        `'${groups.reader ?? "?"}' (status only). An administrator can run: ` +
        `sudo usermod -aG ${groups.member} ${have === "reader" ? user : "$USER"}`
      );
  }
}
