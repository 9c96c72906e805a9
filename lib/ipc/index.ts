/**
 * The IPC spine between firezoned and its clients: length-prefixed JSON frames on a Unix socket,
 * one protocol table, a server that authorizes every peer by SO_PEERCRED and group membership,
 * and a typed client that verifies the daemon is root's.
 */
export { type ClientOptions, connectDaemon, DaemonClient, DEFAULT_SOCKET } from "./client.ts";
export { encodeFrame, FrameDecoder, MAX_FRAME_BYTES } from "./framing.ts";
export {
  Diagnosis,
  diagnose,
  errorBody,
  type Membership,
  type MembershipAdvice,
  MembershipError,
  MembershipSchema,
  membershipAdvice,
} from "./membership.ts";
export {
  type Authorizer,
  type GroupAuthorizerOptions,
  groupAuthorizer,
  type KernelPeer,
  kernelPeer,
  type PeerInfo,
} from "./peer.ts";
export {
  type Access,
  type Check,
  CheckSchema,
  type DaemonEvent,
  DEBUG_INFO_BYTES,
  type DebugSection,
  DIAGNOSTICS_SCHEMA_VERSION,
  EventSchema,
  type Hello,
  InternetResourceSchema,
  type InternetResourceStatus,
  type IpcResource,
  LOG_PAGE_BYTES,
  type LogLine,
  type LogPage,
  MAX_LOG_PAGE_LINES,
  MAX_LOG_WAIT_MS,
  MAX_PAGE_ITEMS,
  MAX_TOKEN_LENGTH,
  type MethodName,
  methods,
  PAGE_BYTES,
  type Params,
  PROTOCOL_VERSION,
  type ResourcePage,
  ResourcePageSchema,
  ResourceSchema,
  type Result,
  type Role,
  type Setting,
  SettingSchema,
  type Status,
  StatusSchema,
} from "./protocol.ts";
export {
  type CallContext,
  DEFAULT_LIMITS,
  type Handlers,
  IpcServer,
  type ServerLimits,
  type ServerOptions,
} from "./server.ts";
