/**
 * WireGuard for the tunnel: one device model (WgDevice/WgPeer) with two backends behind the same
 * setDevice/getDevice surface (kernel module over generic netlink, wireguard-go over UAPI), and the
 * Tunnel the daemon owns: up, setPeers, setRoutes, stats, down, and cleanupStale after a crash.
 *
 * const tunnel = new Tunnel({ logger, onEvent });   // name tun-firezone, MTU 1280, backend auto
 * await tunnel.cleanupStale();
 * await tunnel.up({ privateKey, addresses: ["100.64.0.2/32", "fd00:2021:1111::2/128"] });
 * await tunnel.setPeers([{ publicKey, endpoint, allowedIps }], { replace: true });
 * await tunnel.setRoutes(["10.0.0.0/8"]); await tunnel.stats(); await tunnel.down();
 */

export {
  type FullTunnelRoutes,
  INTERNET_RULE_PRIORITY,
  internetRules,
  internetTable,
  LAN_RULE_PRIORITY,
} from "./full_tunnel.ts";
export {
  decodeGetDevice,
  decodeSockaddr,
  encodeGetDevice,
  encodeSetDevice,
  encodeSockaddr,
  WG_CMD,
  WG_GENL_NAME,
  WG_GENL_VERSION,
  WG_MAX_MESSAGE,
  WGALLOWEDIP_A,
  WGDEVICE_A,
  WGDEVICE_F_REPLACE_PEERS,
  WGPEER_A,
  WGPEER_F,
  type WgMessageContext,
} from "./genl_codec.ts";
export { KernelBackend } from "./kernel.ts";
export { applyChange, type WgBackend, type WgDevice, type WgPeer } from "./model.ts";
export {
  CLIENT_FWMARK,
  CLIENT_RULE_PRIORITY,
  CLIENT_TABLE,
  clientPolicy,
  GATEWAY_FWMARK,
  GATEWAY_ROUTE_PROTOCOL,
  GATEWAY_RULE_PRIORITY,
  gatewayPolicy,
  policyRules,
  type RoutingPolicy,
} from "./policy.ts";
export { ROUTE_PROTOCOL, type RouteChanges, type RouteOwner, reconcileRoutes } from "./routes.ts";
export { findWireguardGo, removeStale, type StaleScope } from "./stale.ts";
export {
  type PeerStats,
  Tunnel,
  type TunnelConfig,
  type TunnelEvent,
  type TunnelOptions,
} from "./tunnel.ts";
export { decodeUapiGet, encodeUapiSet, UAPI_GET, uapiErrno } from "./uapi.ts";
export { uapiExchange, uapiSocketInUse, uapiSocketOwner } from "./uapi_client.ts";
export {
  type BackendEvent,
  UAPI_DIR,
  UserspaceBackend,
  type UserspaceOptions,
  WIREGUARD_GO,
} from "./userspace.ts";
