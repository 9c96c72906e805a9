// What a DnsStub is built with (addresses, upstreams, resources, the hook, limits) and what its
// stats report. Kept apart from the stub so the daemon and tests can name them without the server.
import type { Logger } from "../util/index.ts";
import type { Upstream } from "./forwarder.ts";
import type { DnsResourceEntry } from "./pattern.ts";
import type { ProxyIpAllocatorOptions, ProxyIps } from "./proxy_ips.ts";

export interface ListenAddress {
  address: string;
  port: number;
}

/**
 * Called when a name matching a resource is asked for A or AAAA. The answer waits for the returned
 * promise (up to hookTimeoutMs), so the daemon can request the connection before the application
 * connects. Returning nothing answers at once. A rejection or timeout is logged and the answer sent.
 */
export type ResourceQueryHook = (name: string, resourceId: string, ips: ProxyIps) => unknown;

export interface DnsStubLimits {
  /** Sustained queries per second from one source address (UDP and TCP together). */
  perSourceQps: number;
  perSourceBurst: number;
  /** Forwarded queries waiting for an upstream at once; more are dropped. */
  maxInFlight: number;
  maxTcpConnections: number;
  /** A TCP query longer than this closes its connection (queries are small; answers may not be). */
  maxTcpQueryBytes: number;
  /** Queries one TCP connection may have unanswered at once. */
  maxTcpPipeline: number;
  tcpIdleSeconds: number;
}

export const DEFAULT_STUB_LIMITS: DnsStubLimits = {
  perSourceQps: 2000,
  perSourceBurst: 4000,
  maxInFlight: 1024,
  maxTcpConnections: 128,
  maxTcpQueryBytes: 4096,
  maxTcpPipeline: 32,
  tcpIdleSeconds: 10,
};

export interface DnsStubOptions {
  listen: readonly ListenAddress[];
  upstreams?: readonly Upstream[];
  resources?: readonly DnsResourceEntry[];
  onResourceQuery?: ResourceQueryHook;
  hookTimeoutMs?: number;
  /** TTL of proxy-address answers, in seconds. */
  ttl?: number;
  proxyIps?: ProxyIpAllocatorOptions;
  limits?: Partial<DnsStubLimits>;
  upstreamTimeoutMs?: number;
  upstreamAttempts?: number;
  logger?: Logger;
}

export interface DnsStubStats {
  queries: number;
  resourceAnswers: number;
  forwarded: number;
  upstreamFailures: number;
  truncated: number;
  dropped: {
    malformed: number;
    rateLimited: number;
    inFlight: number;
    tcpOversized: number;
    tcpConnections: number;
  };
}
