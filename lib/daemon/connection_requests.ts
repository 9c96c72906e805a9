// The session's requests for a path to each resource (the portal's request_connection): one per
// resource after init, paced so the daemon stays responsive, and one per name a `dns` resource is
// asked for, applied at once so the application's first packet finds its gateway.
import type { ProxyIps } from "../dns/index.ts";
import { PortalRequestError } from "../portal/index.ts";
import { displayText, formatIp, type Logger } from "../util/index.ts";
import type { PortalLike } from "./portal_session_options.ts";
import type { SessionResources } from "./session_resources.ts";
import type { TunnelReconciler } from "./tunnel_reconciler.ts";

const REQUESTS_PER_TURN = 256;

export interface ConnectionRequestsOptions {
  /** The portal of the session now; null while signed out. */
  portal: () => PortalLike | null;
  /** The session's generation now; answers for an older one are dropped. */
  generation: () => number;
  /** The Internet Resource is asked for only while the user's switch is on. */
  internetEnabled: () => boolean;
  resources: SessionResources;
  reconciler: TunnelReconciler;
  logger: Logger;
}

export class ConnectionRequests {
  constructor(private readonly opts: ConnectionRequestsOptions) {}

  request(resourceId: string, generation: number): void {
    const { resources, logger } = this.opts;
    if (resourceId === resources.internetId() && !this.opts.internetEnabled()) return;
    this.opts
      .portal()
      ?.requestConnection(resourceId)
      .catch((err: unknown) => {
        if (generation !== this.opts.generation()) return;
        // The reason comes from the portal: bounded and escaped before it reaches a log line.
        const reason = displayText(err instanceof PortalRequestError ? err.reason : String(err), 128);
        // `offline`: the portal pushes connection_details when a gateway of the site joins.
        logger.info("no path to a resource yet", { resource: resourceId, reason });
        resources.setGatewayStatus(resourceId, reason === "offline" ? "offline" : "unknown");
      });
  }

  /**
   * A request_connection for every resource, a few hundred per turn of the event loop, so that
   * IPC clients (firezonectl status) are answered while 20,000 requests go out.
   */
  async requestAll(generation: number): Promise<void> {
    let n = 0;
    for (const id of this.opts.resources.ids()) {
      if (generation !== this.opts.generation()) return;
      this.request(id, generation);
      if (++n % REQUESTS_PER_TURN === 0) await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /**
   * The stub's hook: a name of a `dns` resource was asked for. Tells the portal the name and its
   * proxy addresses (the gateway maps them before it confirms), then applies the details at once,
   * so the application's first packet finds the proxy addresses on the gateway's peer.
   */
  async requestDns(resourceId: string, name: string, ips: ProxyIps): Promise<void> {
    const { resources, reconciler } = this.opts;
    const portal = this.opts.portal();
    if (!portal) return;
    const generation = this.opts.generation();
    const details = await portal.requestConnection(resourceId, 3000, {
      name,
      proxy_ipv4: formatIp(ips.v4),
      proxy_ipv6: formatIp(ips.v6),
    });
    if (generation !== this.opts.generation() || !resources.has(resourceId)) return;
    resources.setDetails(resourceId, details);
    resources.setGatewayStatus(resourceId, "online");
    await reconciler.enqueue(async () => {
      if (generation === this.opts.generation()) await reconciler.apply();
    });
  }
}
