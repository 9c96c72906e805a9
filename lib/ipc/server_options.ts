// What IpcServer is given: the handlers derived from the protocol table, who may connect, and the
// limits that keep one caller from starving the others.
import type { Logger } from "../util/index.ts";
import type { Authorizer, KernelPeer, PeerInfo } from "./peer.ts";
import type { MethodName, Params, Result } from "./protocol.ts";
import type { SessionView, TierGroups } from "./tiers.ts";

export interface CallContext {
  peer: PeerInfo;
}

/** One handler per method of the table, except `subscribe`, which the server itself serves. */
export type Handlers = {
  [M in Exclude<MethodName, "subscribe">]: (
    params: Params<M>,
    ctx: CallContext,
  ) => Promise<Result<M>> | Result<M>;
};

export interface ServerLimits {
  maxConnections: number;
  /** Per non-root uid, so one user cannot lock the others out. */
  maxConnectionsPerUid: number;
  /** A frame that starts and does not finish within this time closes the connection. */
  frameTimeoutMs: number;
  /** Unsent bytes a connection may hold before it is dropped as a slow reader. */
  maxQueuedBytes: number;
  maxInFlight: number;
  /** New connections per second one non-root uid may open, sustained; `connectBurst` at once. */
  connectsPerSecond: number;
  connectBurst: number;
  /** Refused connections kept open for their client to read why, per uid and in all; more close at once. */
  maxLingeringPerUid: number;
  maxLingering: number;
  /** Bytes one non-root uid may hold in the daemon (unfinished frames, unsent replies) over all its connections. */
  maxBytesPerUid: number;
}

export const DEFAULT_LIMITS: ServerLimits = {
  maxConnections: 512,
  maxConnectionsPerUid: 64,
  frameTimeoutMs: 5000,
  maxQueuedBytes: 4 * 1024 * 1024,
  maxInFlight: 32,
  connectsPerSecond: 20,
  connectBurst: 40,
  maxLingeringPerUid: 4,
  maxLingering: 64,
  maxBytesPerUid: 16 * 1024 * 1024,
};

export interface ServerOptions {
  socketPath: string;
  handlers: Handlers;
  authorize: Authorizer;
  daemonVersion: string;
  logger?: Logger;
  /** Called once per state-changing request with its outcome ("ok" or an error code). */
  audit?: (peer: PeerInfo, method: MethodName, outcome: string) => void;
  limits?: Partial<ServerLimits>;
  /** Injected for tests; defaults to the kernel's SO_PEERCRED, SO_PEERGROUPS and the peer's pidfd. */
  identify?: (fd: number) => KernelPeer;
  /** The session as the tier check sees it, read at every call; default: nobody signed in. */
  session?: () => SessionView;
  /** Group names that refusals point to; default `firezone`. */
  groups?: TierGroups;
}
