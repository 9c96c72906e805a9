/**
 * firezoned itself: configuration, the socket and its permissions, service-mode tokens, the audit
 * log, the session state machine, and the IPC handlers that expose them.
 */
export { type AuditSink, createAuditSink } from "./audit.ts";
export { type DaemonConfig, DEFAULTS, loadCaFile, loadDaemonConfig, type PortalConfig } from "./config.ts";
export { editConfigText, writeConfigAtomically } from "./config_edit.ts";
export { type ConfigFileResult, checkConfigText, readConfigFile, readRootFile } from "./config_file.ts";
export { type Applies, CONFIG_KEYS, type ConfigKey, type FileSettings, parseBool } from "./config_keys.ts";
export { Daemon, type DaemonOptions } from "./daemon.ts";
export { debugInfo } from "./debug_info.ts";
export { loadDeviceId } from "./device_id.ts";
export { type DiagnosticsDeps, diagnosticHandlers } from "./diagnostic_handlers.ts";
export { type DiagnosticsSource, MAX_CLOCK_SKEW_MS, runDiagnostics } from "./diagnostics.ts";
export { addDnsProxies } from "./dns_plan.ts";
export {
  DNS_PROXY_RANGES,
  DNS_SENTINELS,
  DnsSession,
  type DnsSessionOptions,
  type DnsStartConfig,
  type DnsStatus,
  RESOLVED_UPSTREAMS_FILE,
  recoverDns,
} from "./dns_session.ts";
export { readUpstreams, upstreamsFromPortal } from "./dns_upstreams.ts";
export {
  ALWAYS_DIRECT,
  cutOut,
  DEFAULT_ROUTES,
  type InternetPlan,
  type InternetPlanInput,
  planInternet,
  subtract,
} from "./internet_plan.ts";
export { firezonedManPage } from "./man_page.ts";
export {
  RESET_CAUSES,
  type ResetCause,
  type ResetRecord,
  type Resettable,
  resetSession,
} from "./network_reset.ts";
export {
  type ResetTriggersOptions,
  startResetTriggers,
  type TriggerSettings,
  triggerSettings,
} from "./network_triggers.ts";
export {
  type MonitorLike,
  NETWORK_MAX_WAIT_MS,
  NETWORK_QUIET_MS,
  NetworkWatch,
  type NetworkWatchOptions,
} from "./network_watch.ts";
export { type NftInput, type NftRunner, nftRunner } from "./nft.ts";
export { PortalSession } from "./portal_session.ts";
export type { DnsRequest, PortalLike, PortalSessionOptions } from "./portal_session_options.ts";
export { grantReadGroup } from "./read_group.ts";
export { ConfigControl, type ReloadReport, type ReloadTargets } from "./reload.ts";
export { type ResourceList, ResourcePages } from "./resource_pages.ts";
export { MAX_SECRET_BYTES, readRootSecretFile, type SecretFileResult } from "./root_secret_file.ts";
export { DAEMON_HELP, runDaemon } from "./run.ts";
export {
  appRules,
  checkCgroup,
  checkIfname,
  removeRules,
  type ScopePolicy,
  scopeRules,
  tableName,
} from "./scope_rules.ts";
export { cgroup2Mount, ScopedTunnel, type ScopedTunnelOptions } from "./scoped_tunnel.ts";
export {
  CREDENTIAL_NAME,
  loadServiceToken,
  parseServiceToken,
  type ServiceToken,
  type TokenSources,
} from "./service_token.ts";
export type {
  Session,
  SessionChange,
  SessionSnapshot,
  SignInHints,
} from "./session.ts";
export { type ScopeChoice, SessionOwnership, type SessionOwnershipOptions } from "./session_owner.ts";
export {
  DEFAULT_INTERNET_RESOURCE,
  type InternetResourcePrefs,
  SettingsStore,
  type SettingsStoreOptions,
} from "./settings.ts";
export { CLOCK_CHECK_MS, CLOCK_JUMP_MS, SleepWatch, type SleepWatchOptions } from "./sleep_watch.ts";
export { claimSocket, prepareSocketDir, secureSocket } from "./socket_dir.ts";
export type { TunnelControl, TunnelPeer } from "./tunnel_control.ts";
export {
  type AppliedPeers,
  excludeAddress,
  MAX_WARNINGS,
  MIN_RESOURCE_PREFIX,
  type PlanOptions,
  type ProtectedAddress,
  peerChanges,
  planTunnel,
  type TunnelPlan,
} from "./tunnel_plan.ts";
