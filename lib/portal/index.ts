/**
 * The daemon's control-plane client: a Phoenix-channel WebSocket to the portal with heartbeats,
 * reconnect with backoff, typed events and requestConnection(). The wire contract is
 * docs/portal-protocol.md; its schemas live in protocol.ts.
 */
export {
  type ChannelHandlers,
  type ChannelOptions,
  type ChannelState,
  type ChannelTls,
  describeSocketError,
  PhoenixChannel,
  PortalRequestError,
  type SocketFactory,
  type SocketLike,
} from "./channel.ts";
export {
  PortalClient,
  type PortalClientEvents,
  type PortalClientOptions,
  type PortalClientState,
} from "./client.ts";
export {
  CLOSE_HEARTBEAT_TIMEOUT,
  CLOSE_INVALID_TOKEN,
  CLOSE_REPLACED,
  type ClientJoin,
  type ConnectionDetails,
  type ConnectionDetailsWire,
  encodeFrame,
  type Frame,
  type GatewayDnsMapping,
  type GatewayEventName,
  type GatewayEventPayload,
  type GatewayInit,
  type GatewayJoin,
  type Init,
  type InitWire,
  type InterfaceConfig,
  type InterfaceEntry,
  type InterfaceWire,
  LIMITS,
  type PortalResource,
  parseFrame,
  parseInterface,
  parseResourceEntry,
  protocol,
  type ResourceEntry,
  ROUTED_TYPES,
  type SkippedResource,
  type TokenProblem,
} from "./protocol.ts";
export { type PortalUrlOptions, parsePortalUrl, portalWebSocketUrl, portalWebUrl } from "./url.ts";
