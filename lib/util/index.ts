/**
 * Pure helpers with no I/O of their own: the logger factory, CIDR arithmetic, WireGuard key encoding,
 * backoff schedules, the typed values outside input is parsed into (IpAddr, IpPrefix, Endpoint,
 * WgKey, DnsPattern, bounded text) and the escaping of text for display.
 */

export { Backoff, type BackoffOptions, backoffDelay, DEFAULT_BACKOFF } from "./backoff.ts";
export {
  type Cidr,
  formatCidr,
  formatEndpoint,
  formatIp,
  networkOf,
  normalizeCidr,
  parseCidr,
  parseEndpoint,
  parseIp,
} from "./cidr.ts";
export { type Clock, systemClock } from "./clock.ts";
export { Coalescer, type CoalescerOptions } from "./coalescer.ts";
export {
  type ClientInterface,
  closeUnixBus,
  type MessageBus,
  openUnixBus,
  SYSTEM_BUS_SOCKET,
  unixPathOf,
} from "./dbus_bus.ts";
export { type DnsPattern, parseDnsPattern } from "./dns_pattern.ts";
export { type FileWatch, type FileWatchOptions, watchFile } from "./file_watch.ts";
export { type KeyValueEntry, type KeyValueResult, parseKeyValue } from "./key_value.ts";
export {
  generatePrivateKey,
  isValidKey,
  keyBytes,
  keyFromHex,
  keyToBase64,
  keyToHex,
  parseWgKey,
  publicKeyOf,
  type WgKey,
} from "./keys.ts";
export { guiLogPath, LOG_KEEP, LOG_MAX_BYTES, LogFile } from "./log_file.ts";
export { createLogger, type Logger, type LoggerOptions, type LogLevel, silentLogger } from "./logger.ts";
export {
  type Endpoint,
  type IpAddr,
  type IpPrefix,
  parseEndpointValue,
  parseIpAddr,
  parseIpPrefix,
  prefixContains,
  TUNNEL_POOL_V4,
  TUNNEL_POOL_V6,
} from "./netip.ts";
export { Anonymizer, type AnonymizerOptions, REDACTED, redactSecrets } from "./redact.ts";
export { roff } from "./roff.ts";
export { parseSearchDomain, type SearchDomain } from "./search_domain.ts";
export { displayText, parseText } from "./text.ts";
