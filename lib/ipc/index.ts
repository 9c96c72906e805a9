/**
 * The IPC spine between firezoned and its clients: length-prefixed JSON frames on a Unix socket,
 * one protocol table, a server that authorizes every peer by SO_PEERCRED and group membership,
 * and a typed client that verifies the daemon is root's.
 */
export { type ClientOptions, connectDaemon, DaemonClient, DEFAULT_SOCKET, isNotRunning } from "./client.ts";
export {
  type Check,
  CheckSchema,
  DEBUG_INFO_BYTES,
  type DebugSection,
  DIAGNOSTICS_SCHEMA_VERSION,
  LOG_PAGE_BYTES,
  type LogLine,
  type LogPage,
  MAX_LOG_PAGE_LINES,
  MAX_LOG_WAIT_MS,
} from "./diagnostic_methods.ts";
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
  type BaseTier,
  type DaemonEvent,
  type Hello,
  type InternetResourceStatus,
  type IpcResource,
  MAX_TOKEN_LENGTH,
  type MethodName,
  type MethodSpec,
  methods,
  type Params,
  PROTOCOL_VERSION,
  type Result,
  type Status,
  TIERS,
  type Tier,
} from "./protocol.ts";
export {
  MAX_PAGE_ITEMS,
  PAGE_BYTES,
  type ResourcePage,
  ResourcePageSchema,
  ResourceSchema,
} from "./resource_schema.ts";
export { IpcServer } from "./server.ts";
export {
  type CallContext,
  DEFAULT_LIMITS,
  type Handlers,
  type ServerLimits,
  type ServerOptions,
} from "./server_options.ts";
export { SETTING_KEYS, type Setting, type SettingKey, SettingSchema } from "./setting_schema.ts";
export {
  CgroupPath,
  EventSchema,
  InternetResourceSchema,
  OwnerSchema,
  SessionScope,
  StatusSchema,
} from "./status_schema.ts";
export {
  atLeast,
  checkTier,
  mayCall,
  NO_SESSION,
  requiredTier,
  type SessionView,
  type TierGroups,
  tierOf,
} from "./tiers.ts";
