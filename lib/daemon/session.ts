// The session with the portal: signed_out -> connecting -> connected <-> reconnecting.
import type { IpcResource, Status } from "../ipc/index.ts";

export type SessionSnapshot = Omit<Status, "mode" | "daemonVersion" | "protocol" | "pid" | "uptimeSeconds">;
export type SessionChange = "status" | "resources";

export interface SignInHints {
  accountSlug?: string | undefined;
  actorName?: string | undefined;
}

/** What the daemon needs from a session; the portal-backed implementation provides it. */
export interface Session {
  snapshot(): SessionSnapshot;
  resources(): IpcResource[];
  signIn(token: string, hints: SignInHints): Promise<void>;
  signOut(reason: string): Promise<void>;
  onChange(listener: (change: SessionChange) => void): void;
  stop(): Promise<void>;
}
