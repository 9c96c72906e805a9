/**
 * DNS for the tunnel: the stub resolver (resource names answered with proxy addresses, everything
 * else forwarded upstream), DNS resource name patterns, a bounded DNS wire codec, and control of
 * the system's resolver (systemd-resolved over D-Bus, or /etc/resolv.conf) with crash recovery.
 */

export {
  createDnsControl,
  type DetectPaths,
  DNS_CONTROL_MODES,
  type DnsControl,
  type DnsControlMode,
  type DnsControlOptions,
  detectDnsControl,
  parseDnsControlMode,
} from "./dns_control.ts";
export {
  buildAnswer,
  type EncodeOptions,
  encodeMessage,
  nameToWire,
  responseFlags,
  STUB_UDP_PAYLOAD,
  truncateResponse,
} from "./encode.ts";
export { Forwarder, type ForwarderOptions, type Upstream } from "./forwarder.ts";
export {
  CLASS_IN,
  DnsFormatError,
  type DnsHeader,
  type DnsMessage,
  type DnsQuery,
  type DnsQuestion,
  type DnsRecord,
  type EdnsInfo,
  flagsOf,
  HEADER_LENGTH,
  MAX_POINTERS,
  parseMessage,
  parseQuery,
  RCODE,
  readHeader,
  readName,
  TYPE,
} from "./message.ts";
export {
  DnsNameError,
  type DomainName,
  MAX_LABEL_LENGTH,
  MAX_NAME_LENGTH,
  parseDomainName,
} from "./name.ts";
export {
  compareDnsPatterns,
  type DnsPattern,
  type DnsResourceEntry,
  DnsResourceTable,
  parseDnsPattern,
} from "./pattern.ts";
export {
  DEFAULT_MAX_PROXY_NAMES,
  PROXY_V4_RANGE,
  PROXY_V6_RANGE,
  ProxyIpAllocator,
  type ProxyIpAllocatorOptions,
  type ProxyIps,
  ProxyIpsExhaustedError,
} from "./proxy_ips.ts";
export { type RateLimitOptions, SourceRateLimiter } from "./rate_limit.ts";
export {
  nameserversOf,
  RESOLV_CONF,
  type ReassertOutcome,
  ResolvConfControl,
  type ResolvConfOptions,
  renderResolvConf,
  resolvConfIsManaged,
  resolvConfStateFiles,
  type SystemDnsConfig,
  systemNameservers,
} from "./resolv_conf.ts";
export {
  type ResolvedConfig,
  ResolvedControl,
  type ResolvedOptions,
  type ResolvedRouting,
  resolvedIsRunning,
  zoneOfPattern,
} from "./resolved.ts";
export { DnsStub } from "./stub.ts";
export {
  DEFAULT_STUB_LIMITS,
  type DnsStubLimits,
  type DnsStubOptions,
  type DnsStubStats,
  type ListenAddress,
  type ResourceQueryHook,
} from "./stub_options.ts";
