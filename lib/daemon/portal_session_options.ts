// What a PortalSession is given, and the part of the portal client it uses.
import type { ConnectionDetails, PortalClientEvents, PortalClientOptions } from "../portal/index.ts";
import type { Logger } from "../util/index.ts";
import type { PortalConfig } from "./config.ts";
import type { DnsSessionOptions } from "./dns_session.ts";
import type { InternetResourcePrefs } from "./settings.ts";
import type { TunnelControl } from "./tunnel_control.ts";

/** The part of PortalClient the session uses, so tests can drive it without a portal. */
export interface PortalLike {
  start(): void;
  stop(): void;
  on<E extends keyof PortalClientEvents>(
    event: E,
    listener: (payload: PortalClientEvents[E]) => void,
  ): () => void;
  requestConnection(resourceId: string, timeoutMs?: number, dns?: DnsRequest): Promise<ConnectionDetails>;
  /** Dial again at once with the backoff started over (a session reset). */
  reconnect?(reason: string): void;
}

/** For a `dns` resource: the name asked for and the proxy addresses the stub answered with. */
export interface DnsRequest {
  name: string;
  proxy_ipv4: string;
  proxy_ipv6: string;
}

export interface PortalSessionOptions {
  /** Where the portal is; without one the session stays `not_configured` and never dials. */
  portal: PortalConfig;
  deviceId: string;
  deviceName?: string;
  version: string;
  tunnel: TunnelControl;
  logger: Logger;
  /** The Internet Resource switch at start (the saved choice, else the configured default). */
  internetResource?: InternetResourcePrefs;
  /** How long sign_in waits for the portal's first answer before returning `connecting`. */
  signInWaitMs?: number;
  createPortal?: (options: PortalClientOptions) => PortalLike;
  /**
   * DNS resources: the stub on the tunnel and the system's resolver pointed at it
   * (lib/daemon/dns_session.ts). Without it, `dns` resources are reported as not supported.
   */
  dns?: Pick<DnsSessionOptions, "setting" | "stateDir" | "resolvConfPath" | "listenPort" | "onUnfollowable">;
  /** The portal host's addresses, resolved off the event loop; default node:dns lookup (all). */
  resolvePortal?: (host: string) => Promise<string[]>;
}
