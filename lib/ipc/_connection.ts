// One connection's state as the server keeps it on the socket.
import type { Socket } from "bun";
import type { Outbox } from "./_outbox.ts";
import type { FrameDecoder } from "./framing.ts";
import type { PeerInfo } from "./peer.ts";

export interface Conn {
  /** The SO_PEERCRED uid while the connection counts against that uid's limits. */
  uid: number | null;
  /** The uid whose refused-connection allowance this connection holds while it lingers. */
  lingerUid: number | null;
  peer: PeerInfo | null;
  decoder: FrameDecoder;
  outbox: Outbox;
  subscribed: boolean;
  inFlight: number;
  frameTimer: ReturnType<typeof setTimeout> | null;
  /** Which frame (the decoder's framesStarted) the running frame timer belongs to. */
  frameTimed: number;
  closed: boolean;
}

export type Sock = Socket<Conn>;

// Bun exposes the file descriptor of a Unix socket at run time but not in its type definitions.
export function socketFd(s: Sock): number {
  return (s as unknown as { fd: number }).fd;
}
