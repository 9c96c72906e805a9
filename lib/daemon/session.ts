// The session with the portal: signed_out -> connecting -> connected <-> reconnecting.
import type { IpcResource, Status } from "../ipc/index.ts";
import { FzError } from "../types/index.ts";

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

/** A session that stays signed out: used until a portal connector is configured. */
export class OfflineSession implements Session {
  private listeners = new Set<(change: SessionChange) => void>();
  snapshot(): SessionSnapshot {
    return { state: "signed_out", resourceCount: 0 };
  }
  resources(): IpcResource[] {
    return [];
  }
  async signIn(_token: string, _hints: SignInHints): Promise<void> {
    throw new FzError("tunnel_error", "this firezoned has no portal connection configured");
  }
  async signOut(_reason: string): Promise<void> {}
  onChange(listener: (change: SessionChange) => void): void {
    this.listeners.add(listener);
  }
  async stop(): Promise<void> {}
}
