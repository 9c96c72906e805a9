// Why a user may not operate firezoned, and the one fix that applies. The daemon (or, when the kernel
// refused the connect, the client) establishes the diagnosis from two facts: whether the process holds
// the group (the kernel's credentials) and whether the group database lists the user. The words and
// the fix are built here from that diagnosis and two checked names, never from text a peer sent.
import * as v from "valibot";
import { ACCOUNT_NAME } from "../sys/index.ts";
import { FzError } from "../types/index.ts";

export const Diagnosis = v.picklist(["not_member", "stale_session", "removed"]);
/**
 * - not_member: neither the process nor the group database has the user in the group.
 * - stale_session: the group database lists the user, but this process started before that.
 * - removed: the process still holds the group, but the group database no longer lists the user.
 */
export type Diagnosis = v.InferOutput<typeof Diagnosis>;

/** The structured part of a membership refusal, as it travels in an error body. */
export const MembershipSchema = v.object({
  diagnosis: Diagnosis,
  group: v.pipe(v.string(), v.regex(ACCOUNT_NAME)),
  user: v.nullable(v.pipe(v.string(), v.regex(ACCOUNT_NAME))),
});
export type Membership = v.InferOutput<typeof MembershipSchema>;

/** What a person reads: one line, the full text, and the command that fixes it where there is one. */
export interface MembershipAdvice {
  title: string;
  message: string;
  /** For a terminal: with the user's name. */
  fix?: string;
  /** For the tray, whose users copy it into a terminal: `$USER` in place of the name. */
  trayFix?: string;
  afterFix?: string;
}

export function membershipAdvice(m: Membership): MembershipAdvice {
  const who = m.user ?? "$USER";
  const user = m.user ? `User '${m.user}'` : "This user";
  switch (m.diagnosis) {
    case "stale_session":
      return {
        title: "Log out and back in to use Firezone",
        message:
          `${user} is in group '${m.group}', but this login session started before that, so its ` +
          `processes do not have the group yet. Log out and in again, or run \`newgrp ${m.group}\` ` +
          "in this terminal (it starts a shell that has the group).",
        afterFix: `You joined group '${m.group}' after this session started`,
      };
    case "removed":
      return {
        title: `You were removed from group '${m.group}'`,
        message:
          `${user} is no longer in group '${m.group}' (the group database does not list them; this ` +
          "process still holds the group from an earlier login), so firezoned refuses changes from " +
          `them. If that is a mistake, an administrator can run: sudo usermod -aG ${m.group} ${who}`,
      };
    default:
      return {
        title: `You are not in group '${m.group}'`,
        message:
          `${user} is not in group '${m.group}', so firezoned refuses the request. ` +
          `Run: sudo usermod -aG ${m.group} ${who}, then log out and in again.`,
        fix: `sudo usermod -aG ${m.group} ${who}`,
        trayFix: `sudo usermod -aG ${m.group} $USER`,
        afterFix: "then log out and back in",
      };
  }
}

/** permission_denied with its diagnosis attached, so clients can act on it without parsing text. */
export class MembershipError extends FzError {
  readonly membership: Membership;
  constructor(membership: Membership, prefix = "") {
    super("permission_denied", `${prefix}${membershipAdvice(membership).message}`);
    this.membership = membership;
  }
}

/** The diagnosis from the two facts, for a process that does not hold the group. */
export function diagnose(listedInDatabase: boolean): Diagnosis {
  return listedInDatabase ? "stale_session" : "not_member";
}

/** The wire form of an error: code, message, and the diagnosis when there is one. */
export function errorBody(error: FzError): { code: string; message: string; membership?: Membership } {
  return error instanceof MembershipError
    ? { code: error.code, message: error.message, membership: error.membership }
    : { code: error.code, message: error.message };
}
