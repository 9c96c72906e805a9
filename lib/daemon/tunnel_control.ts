// What the session needs from the tunnel: the daemon passes lib/wireguard's Tunnel, tests may pass
// anything with the same shape.

export interface TunnelPeer {
  publicKey: string;
  endpoint: string;
  allowedIps: string[];
  persistentKeepalive?: number;
}

export interface TunnelControl {
  readonly name: string;
  /** Removes what a crashed predecessor left: device, routes, helper processes. */
  cleanupStale(): Promise<void>;
  up(config: { privateKey: string; addresses: string[] }): Promise<void>;
  /** Replaces the whole peer set. */
  setPeers(peers: TunnelPeer[]): Promise<void>;
  /** Makes the routes into the device exactly `cidrs`. */
  setRoutes(cidrs: string[]): Promise<void>;
  down(): Promise<void>;
}
