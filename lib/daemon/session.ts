// The session with the portal: signed_out -> connecting -> connected <-> reconnecting.
import type { Status } from "../ipc/index.ts";
import type { ResourceList } from "./resource_pages.ts";
import type { InternetResourcePrefs } from "./settings.ts";

export type SessionSnapshot = Omit<Status, "mode" | "daemonVersion" | "protocol" | "pid" | "uptimeSeconds">;
export type SessionChange = "status" | "resources";

export interface SignInHints {
  accountSlug?: string | undefined;
  actorName?: string | undefined;
}

/** What the daemon needs from a session; the portal-backed implementation provides it. */
export interface Session {
  snapshot(): SessionSnapshot;
  /** The resource list sorted by name, with a version that changes whenever the list does. */
  resources(): ResourceList;
  signIn(token: string, hints: SignInHints): Promise<void>;
  signOut(reason: string): Promise<void>;
  onChange(listener: (change: SessionChange) => void): void;
  /** The user's Internet Resource switch; takes effect at once if the session offers the resource. */
  setInternetResource(prefs: InternetResourcePrefs): Promise<void>;
  stop(): Promise<void>;
}
