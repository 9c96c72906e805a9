// How a PortalSession's parts are connected: the resource list, the assigned interface, the portal's
// own addresses, DNS, the tunnel passes and the path requests, each reading the session's state
// through the hooks below rather than holding a copy of it.
import { ConnectionRequests } from "./connection_requests.ts";
import type { DnsSession } from "./dns_session.ts";
import { DnsWiring } from "./dns_wiring.ts";
import { PortalAddresses } from "./portal_addresses.ts";
import type { PortalLike, PortalSessionOptions } from "./portal_session_options.ts";
import type { SessionChange } from "./session.ts";
import { SessionInterface } from "./session_interface.ts";
import { SessionResources } from "./session_resources.ts";
import type { InternetResourcePrefs } from "./settings.ts";
import { TunnelReconciler } from "./tunnel_reconciler.ts";

/** The session's state as its parts read it, always as it is now. */
export interface SessionHooks {
  emit(change: SessionChange): void;
  /** This sign-in's WireGuard key; null while signed out. */
  privateKey(): string | null;
  internet(): InternetResourcePrefs;
  /** Bumped by every sign-in and sign-out: work begun for an older one is dropped. */
  generation(): number;
  portal(): PortalLike | null;
  /** A tunnel pass failed; the session shows it as its last error. */
  onFailure(message: string): void;
}

export interface SessionParts {
  resources: SessionResources;
  iface: SessionInterface;
  portalAddresses: PortalAddresses;
  /** While configured (`opts.dns`). */
  dns: DnsSession | null;
  reconciler: TunnelReconciler;
  requests: ConnectionRequests;
}

export function sessionParts(opts: PortalSessionOptions, hooks: SessionHooks): SessionParts {
  const { logger, tunnel } = opts;
  const emit = (change: SessionChange) => hooks.emit(change);
  const resources = new SessionResources({ logger, servesDns: Boolean(opts.dns), emit });
  const iface = new SessionInterface({ logger, resources });
  const portalAddresses = new PortalAddresses({ logger, resolve: opts.resolvePortal });
  // The stub's hook runs only once DNS is up, after `requests` exists.
  let requests: ConnectionRequests | undefined;
  const dns = opts.dns
    ? new DnsWiring({
        settings: opts.dns,
        logger,
        requestConnection: (resourceId, name, ips) => requests!.requestDns(resourceId, name, ips),
        resources,
        iface,
        tunnelName: tunnel.name,
        emit,
      })
    : null;
  const reconciler = new TunnelReconciler({
    tunnel,
    logger,
    dns,
    session: { privateKey: () => hooks.privateKey(), internet: () => hooks.internet() },
    resources,
    iface,
    portalAddresses,
    generation: () => hooks.generation(),
    emit,
    onFailure: (message) => hooks.onFailure(message),
  });
  requests = new ConnectionRequests({
    portal: () => hooks.portal(),
    generation: () => hooks.generation(),
    internetEnabled: () => hooks.internet().enabled,
    resources,
    reconciler,
    logger,
  });
  return { resources, iface, portalAddresses, dns: dns?.session ?? null, reconciler, requests };
}
