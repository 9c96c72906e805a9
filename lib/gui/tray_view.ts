// What the tray shows, as plain data: the app folds daemon events and user actions into a TrayView;
// the icon, the tooltip and the menu are pure functions of it.
import type { IpcResource, Status } from "../ipc/index.ts";
import { displayText } from "../util/index.ts";
import type { Problem } from "./problem.ts";

export interface TrayView {
  /** `connecting` only before the first answer from the daemon. */
  link: "connecting" | "up" | "down";
  problem: Problem | null;
  status: Status | null;
  resources: IpcResource[];
  /** A browser sign-in is waiting for its deep link. */
  signingIn: boolean;
  /** Whether Sign In can open a page: false when no account slug is configured. */
  accountConfigured: boolean;
  /** The uid this tray runs as; null when unknown (then it is taken for the session's owner). */
  uid: number | null;
}

/** The five looks of the icon. */
export type TrayState = "signed_out" | "signing_in" | "connected" | "reconnecting" | "error";

export const initialView: TrayView = {
  link: "connecting",
  problem: null,
  status: null,
  resources: [],
  signingIn: false,
  accountConfigured: false,
  uid: null,
};

/** The session's owner when it is another user than this tray's: their name, else null. */
export function otherOwner(view: TrayView): string | null {
  const owner = view.status?.owner;
  if (!owner || view.uid === null || owner.uid === view.uid) return null;
  return owner.user;
}

export function trayState(view: TrayView): TrayState {
  if (view.link === "down") return "error";
  if (view.signingIn) return "signing_in";
  switch (view.status?.state) {
    case "connected":
      return "connected";
    case "reconnecting":
      return "reconnecting";
    case "connecting":
      return "signing_in";
    case "not_configured":
      // The administrator has to act before anything works: the same look as an unreachable daemon.
      return "error";
    default:
      return "signed_out";
  }
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** Title and body of the tray tooltip, escaped: names and error texts may come from the portal. */
export function tooltip(view: TrayView): { title: string; body: string } {
  const t = tooltipText(view);
  return { title: displayText(t.title, 256), body: displayText(t.body, 512) };
}

function tooltipText(view: TrayView): { title: string; body: string } {
  if (view.link === "down" && view.problem) {
    return {
      title: `Firezone: ${view.problem.title}`,
      body: view.problem.fix ? `Fix: ${view.problem.fix}` : view.problem.detail,
    };
  }
  if (view.link === "connecting") return { title: "Firezone", body: "Connecting to the Firezone daemon" };
  const s = view.status;
  if (view.signingIn)
    return { title: "Firezone: Signing in", body: "Waiting for the browser sign-in to finish" };
  switch (s?.state) {
    case "connected":
      return {
        title: `Firezone: Signed in as ${s.actor ?? "unknown"}${otherOwner(view) ? ` for ${otherOwner(view)}` : ""}`,
        body: `${plural(view.resources.length, "resource")}${s.account ? ` in ${s.account}` : ""}`,
      };
    case "reconnecting":
      return {
        title: `Firezone: Reconnecting${s.reconnectCause ? ` (${s.reconnectCause})` : ""}`,
        body: s.lastReset
          ? `Last reset: ${s.lastReset.cause}, ${s.lastReset.at}`
          : (s.lastError ?? "Lost the portal; retrying"),
      };
    case "connecting":
      return { title: "Firezone: Connecting", body: "Signing in to the portal" };
    case "not_configured":
      return { title: "Firezone: Not configured", body: s.lastError ?? "firezoned has no portal URL" };
    default:
      return {
        title: "Firezone: Signed out",
        body: s?.mode === "service" ? (s.lastError ?? "Service mode") : "Click Sign In",
      };
  }
}
