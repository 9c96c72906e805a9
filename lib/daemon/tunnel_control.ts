// What the session needs from the tunnel. lib/wireguard's Tunnel has this shape and is passed as is.

export interface TunnelPeer {
  publicKey: string;
  endpoint?: string;
  allowedIps: string[];
  persistentKeepalive?: number;
  /** Drop the peer's previous allowed IPs first, so removed resources stop routing through it. */
  replaceAllowedIps?: boolean;
  /** Remove this peer. */
  remove?: boolean;
  /** Change the peer only if it exists (a reset's endpoint refresh never re-creates a removed one). */
  updateOnly?: boolean;
}

export interface TunnelControl {
  readonly name: string;
  /** Removes what a crashed predecessor left: device, routes, helper processes. */
  cleanupStale(): Promise<unknown>;
  up(config: { privateKey: string; addresses: string[] }): Promise<void>;
  /** Changes the listed peers; with `replace`, peers not listed are removed (and sessions reset). */
  setPeers(peers: TunnelPeer[], options: { replace?: boolean }): Promise<void>;
  /** Makes the routes into the device exactly `cidrs`. */
  setRoutes(cidrs: string[]): Promise<unknown>;
  /** The Internet Resource's table and rules; null removes them (lib/wireguard/full_tunnel.ts). */
  setFullTunnel(config: { routes: string[]; allowLan: boolean } | null): Promise<unknown>;
  down(): Promise<void>;
}
