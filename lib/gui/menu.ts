// The tray menu in the manner of upstream Firezone, as a tree of plain nodes built from a TrayView.
import type { IpcResource } from "../ipc/index.ts";
import { displayText } from "../util/index.ts";
import { otherOwner, type TrayView } from "./tray_view.ts";

/** Text from the portal as a label: control and bidi characters escaped, long text cut. */
const show = (text: string, max = 128) => displayText(text, max);
/** A menu is for finding a resource by eye; past this many the rest are counted, not listed. */
export const MAX_MENU_RESOURCES = 500;

export type MenuAction =
  | { kind: "sign_in" }
  | { kind: "cancel_sign_in" }
  | { kind: "sign_out" }
  | { kind: "copy"; what: "address" | "name" | "command"; text: string }
  | { kind: "internet_resource"; enabled?: boolean; allowLan?: boolean }
  | { kind: "retry" }
  | { kind: "export_logs" }
  | { kind: "about" }
  | { kind: "quit" };

export interface MenuNode {
  label: string;
  /** Disabled items are shown greyed out and cannot be clicked. */
  enabled: boolean;
  separator?: boolean;
  /** A checkbox item, drawn ticked when true. */
  checked?: boolean;
  action?: MenuAction;
  children?: MenuNode[];
}

const SEPARATOR: MenuNode = { label: "", enabled: true, separator: true };
const info = (label: string): MenuNode => ({ label, enabled: false });
const item = (label: string, action: MenuAction): MenuNode => ({ label, enabled: true, action });

function resourceMenu(r: IpcResource): MenuNode {
  // What is copied is escaped too: a pasted name must not carry a terminal escape either.
  const children: MenuNode[] = [
    info(show(r.address)),
    item("Copy address", { kind: "copy", what: "address", text: show(r.address, 4096) }),
    item("Copy name", { kind: "copy", what: "name", text: show(r.name, 4096) }),
  ];
  if (r.site) children.push(SEPARATOR, info(`Site: ${show(r.site.name)}`));
  if (r.gatewayStatus && r.gatewayStatus !== "unknown") children.push(info(`Gateway: ${r.gatewayStatus}`));
  return { label: show(r.name), enabled: true, children };
}

/**
 * The full-tunnel switch, shown while the portal offers an Internet Resource (or while it is on, so
 * it can always be switched off). In service mode the administrator decides: shown, greyed out.
 */
function internetSection(view: TrayView): MenuNode[] {
  const ir = view.status?.internetResource;
  if (!ir || (!ir.available && !ir.enabled)) return [];
  // The switch is the owner's (or root's): shown to others, greyed out.
  const service = view.status?.mode === "service" || otherOwner(view) !== null;
  const check = (label: string, checked: boolean, action: MenuAction): MenuNode => ({
    label,
    enabled: !service,
    checked,
    action,
  });
  const nodes = [
    SEPARATOR,
    check("Route all traffic through Firezone", ir.enabled, {
      kind: "internet_resource",
      enabled: !ir.enabled,
    }),
  ];
  if (ir.enabled) {
    nodes.push(
      check("Allow local network access", ir.allowLan, { kind: "internet_resource", allowLan: !ir.allowLan }),
    );
    if (!ir.available) nodes.push(info("Not offered by your account now"));
  }
  return nodes;
}

function resourcesSection(view: TrayView): MenuNode[] {
  const sorted = [...view.resources].sort((a, b) => a.name.localeCompare(b.name));
  const shown = sorted.slice(0, MAX_MENU_RESOURCES).map(resourceMenu);
  if (sorted.length > MAX_MENU_RESOURCES)
    shown.push(info(`... and ${sorted.length - MAX_MENU_RESOURCES} more (firezonectl resources lists all)`));
  return [
    ...internetSection(view),
    SEPARATOR,
    info("Resources"),
    ...(sorted.length ? shown : [info("No resources")]),
  ];
}

function sessionSection(view: TrayView): MenuNode[] {
  if (view.link === "connecting") return [info("Connecting to the Firezone daemon...")];
  if (view.link === "down" && view.problem) {
    const p = view.problem;
    const nodes = [info(p.title)];
    if (p.fix) nodes.push(item(`Fix: ${p.fix}`, { kind: "copy", what: "command", text: p.fix }));
    if (p.afterFix) nodes.push(info(p.afterFix));
    nodes.push(item("Retry now", { kind: "retry" }));
    return nodes;
  }
  const s = view.status;
  const service = s?.mode === "service";
  // Another user's session: who it is for and why this user's programs may not use it; no Sign Out.
  const owner = otherOwner(view);
  const signOut: MenuNode[] = service
    ? [info("Managed by your administrator (service mode)")]
    : owner
      ? [info(scopeNote(owner, s?.scope))]
      : [item("Sign Out", { kind: "sign_out" })];
  const who = `Signed in as ${show(s?.actor ?? "unknown")}${owner ? ` for ${show(owner)}` : ""}`;
  switch (s?.state) {
    case "connected":
      return [info(who), ...signOut, ...resourcesSection(view)];
    case "reconnecting":
      return [
        info(who),
        info(s.reconnectCause ? `Reconnecting (${show(s.reconnectCause)})...` : "Reconnecting..."),
        ...signOut,
        ...resourcesSection(view),
      ];
    case "connecting":
      return [info("Signing in..."), ...signOut];
    case "not_configured":
      // The message names the file and key to set; sign-in cannot work until then.
      return [info("Not configured: firezoned has no portal"), ...(s.lastError ? [info(s.lastError)] : [])];
  }
  if (service) {
    // A refused service token is the administrator's to fix; the daemon's message names the fix.
    const nodes = [info("Signed out (service mode: ask your administrator)")];
    if (s?.lastError) nodes.push(info(`Last error: ${s.lastError}`));
    return nodes;
  }
  if (view.signingIn)
    return [info("Waiting for browser..."), item("Cancel sign-in", { kind: "cancel_sign_in" })];
  const nodes = [item("Sign In", { kind: "sign_in" })];
  if (s?.lastError) nodes.push(info(`Last error: ${show(s.lastError, 256)}`));
  return nodes;
}

/** Why another user's session is not this user's to use or end. */
function scopeNote(owner: string, scope: string | undefined): string {
  const who = show(owner);
  const signOut = owner === "root" ? "only root can sign out" : `only ${who} or root can sign out`;
  return scope === "system"
    ? `${who}'s session: any program may use it; ${signOut}`
    : `${who}'s session: only ${who}'s programs may use it; ${signOut}`;
}

/** The whole menu; item order and labels follow upstream Firezone's tray. */
export function buildMenu(view: TrayView): MenuNode[] {
  return [
    ...sessionSection(view),
    SEPARATOR,
    item("Export Logs", { kind: "export_logs" }),
    item("About Firezone", { kind: "about" }),
    item("Quit Firezone", { kind: "quit" }),
  ];
}
