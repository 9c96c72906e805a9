/**
 * Pure helpers with no I/O of their own: the logger factory, and (as later layers need them)
 * CIDR arithmetic, WireGuard key encoding and backoff schedules.
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
export { type KeyValueEntry, type KeyValueResult, parseKeyValue } from "./key_value.ts";
export {
  generatePrivateKey,
  isValidKey,
  keyBytes,
  keyFromHex,
  keyToBase64,
  keyToHex,
  publicKeyOf,
} from "./keys.ts";
export { createLogger, type Logger, type LoggerOptions, type LogLevel, silentLogger } from "./logger.ts";
