// Who owns the session and how far it reaches: the uid that signed in interactively, and the scope
// the kernel enforces for it (lib/daemon/scope_rules.ts). Service mode has no owner and scope
// `system`: a service account's tunnel is the machine's.
import type { SessionScope, Status } from "../ipc/index.ts";
import type { ScopePolicy } from "./scope_rules.ts";

/** What a caller asked for: a scope, or the configured default. */
export type ScopeChoice =
  | { scope: "default" }
  | { scope: "system" | "user" }
  | { scope: "app"; cgroup: string };

export interface SessionOwnershipOptions {
  serviceMode: boolean;
  defaultScope: Exclude<SessionScope, "app">;
  /** Where the policy goes; without it scope is only reported (tests of the IPC layer). */
  tunnel?: { setPolicy(policy: ScopePolicy): Promise<void> };
}

export class SessionOwnership {
  #owner: { uid: number; user: string } | null = null;
  #policy: ScopePolicy = { scope: "system" };

  constructor(private readonly opts: SessionOwnershipOptions) {}

  get owner(): { uid: number; user: string } | null {
    return this.#owner;
  }

  /** A new owner and scope; the kernel's rules change first, and a refusal leaves everything as it was. */
  async take(owner: { uid: number; user: string }, choice: ScopeChoice): Promise<void> {
    const policy = this.#policyFor(owner.uid, choice);
    await this.opts.tunnel?.setPolicy(policy);
    this.#owner = { ...owner };
    this.#policy = policy;
  }

  /** The owner's new scope. */
  async change(choice: ScopeChoice): Promise<void> {
    if (!this.#owner) return;
    const policy = this.#policyFor(this.#owner.uid, choice);
    await this.opts.tunnel?.setPolicy(policy);
    this.#policy = policy;
  }

  /** No owner; the next tunnel starts from scope `system` until someone signs in. */
  async clear(): Promise<void> {
    if (!this.#owner) return;
    this.#owner = null;
    this.#policy = { scope: "system" };
    // The device is down or going down, and its rules with it; this only resets the next default.
    await this.opts.tunnel?.setPolicy(this.#policy).catch(() => {});
  }

  status(): Pick<Status, "owner" | "scope" | "scopeCgroup"> {
    if (this.opts.serviceMode) return { scope: "system" };
    if (!this.#owner) return {};
    return {
      owner: { ...this.#owner },
      scope: this.#policy.scope,
      ...(this.#policy.scope === "app" ? { scopeCgroup: this.#policy.cgroup } : {}),
    };
  }

  #policyFor(uid: number, choice: ScopeChoice): ScopePolicy {
    if (this.opts.serviceMode) return { scope: "system" };
    const scope = choice.scope === "default" ? this.opts.defaultScope : choice.scope;
    if (choice.scope === "app") return { scope: "app", uid, cgroup: choice.cgroup };
    return scope === "system" ? { scope: "system" } : { scope: "user", uid };
  }
}
