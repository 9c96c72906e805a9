// Which notification, if any, a change of the daemon's status deserves: connected, disconnected
// (with the reason), or sign-in failed.
import type { Status } from "../ipc/index.ts";
import type { Notification } from "./notifier.ts";

export interface NoticeContext {
  /** This GUI asked for the sign-out, so the reason is known. */
  userSignedOut: boolean;
  resourceCount: number;
}

/** Compares two successive statuses; null when nothing is worth interrupting the user for. */
export function statusNotice(prev: Status | null, next: Status, ctx: NoticeContext): Notification | null {
  const was = prev?.state ?? "signed_out";
  if (was === next.state) return null;
  if (next.state === "connected" && was !== "reconnecting") {
    const who = next.actor ? `Signed in as ${next.actor}` : "Signed in";
    const n = ctx.resourceCount;
    return {
      summary: "Firezone connected",
      body: `${who}${next.account ? ` (${next.account})` : ""}. ${n} resource${n === 1 ? "" : "s"} available.`,
      topic: "session",
    };
  }
  if (next.state === "connected")
    return { summary: "Firezone reconnected", body: "The tunnel is back.", topic: "session" };
  if (next.state === "signed_out" && was === "connecting") {
    return {
      summary: "Sign-in failed",
      body: next.lastError ?? "The portal did not accept the sign-in. Try again.",
      topic: "session",
      urgency: "critical",
    };
  }
  if (next.state === "signed_out") {
    const reason = ctx.userSignedOut ? "You signed out." : (next.lastError ?? "The session ended.");
    return { summary: "Firezone disconnected", body: reason, topic: "session" };
  }
  return null;
}
