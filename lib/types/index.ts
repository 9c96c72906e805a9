/**
 * Plain data and error classes shared by every layer: stable error codes, the product version.
 * Nothing here does I/O or imports anything else from lib/.
 */
export { ERROR_CODES, type ErrorCode, FzError, isErrorCode } from "./errors.ts";
export type { Resource, ResourceType } from "./resource.ts";
export { VERSION } from "./version.ts";
