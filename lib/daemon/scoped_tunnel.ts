// The tunnel with its scope: the session's nftables rules go in before the device comes up and
// leave after it goes down, so there is no moment in which the device carries traffic the scope
// refuses. At start, whatever table a crashed predecessor left is deleted with its device.
import { existsSync, readFileSync, statSync } from "node:fs";
import { FzError } from "../types/index.ts";
import type { Logger } from "../util/index.ts";
import { type NftRunner, nftRunner } from "./nft.ts";
import { appRules, checkCgroup, removeRules, type ScopePolicy, scopeRules } from "./scope_rules.ts";
import type { TunnelControl, TunnelPeer } from "./tunnel_control.ts";

export interface ScopedTunnelOptions {
  logger: Logger;
  /** Loads one nftables transaction; default `nft` as a child process. */
  run?: NftRunner;
  /** /proc/self/mountinfo's text, to find the cgroup v2 hierarchy for scope `app`. */
  mountinfo?: () => string;
}

/** Where nft (which looks below /sys/fs/cgroup) finds the cgroup v2 hierarchy, or null. */
export function cgroup2Mount(mountinfo: string): { mountPoint: string; prefix: string } | null {
  for (const line of mountinfo.split("\n")) {
    // id parent major:minor root mountpoint options [optional...] - fstype source superoptions
    const [left, right] = line.split(" - ");
    if (!left || !right || right.split(" ")[0] !== "cgroup2") continue;
    const fields = left.split(" ");
    if (fields[3] !== "/") continue;
    const mountPoint = fields[4] ?? "";
    if (mountPoint === "/sys/fs/cgroup") return { mountPoint, prefix: "" };
    const rest = mountPoint.startsWith("/sys/fs/cgroup/") ? mountPoint.slice("/sys/fs/cgroup/".length) : "";
    if (/^[A-Za-z0-9_.-]+$/.test(rest)) return { mountPoint, prefix: `${rest}/` };
  }
  return null;
}

export class ScopedTunnel implements TunnelControl {
  #policy: ScopePolicy = { scope: "system" };
  #deviceUp = false;
  /** nftables changes run one at a time, in order. */
  #serial: Promise<unknown> = Promise.resolve();
  readonly #run: NftRunner;

  constructor(
    private readonly inner: TunnelControl,
    private readonly opts: ScopedTunnelOptions,
  ) {
    this.#run = opts.run ?? nftRunner();
  }

  get name(): string {
    return this.inner.name;
  }

  get policy(): ScopePolicy {
    return this.#policy;
  }

  async cleanupStale(): Promise<unknown> {
    const found = await this.inner.cleanupStale();
    const lines = Array.isArray(found) ? [...found] : [];
    try {
      await this.#serialized(() => this.#run({ json: removeRules(this.name) }));
    } catch (err) {
      // Without nft there cannot be a table either; scope `user` reports the missing tool when used.
      this.opts.logger.debug("no scope rules removed at start", { error: (err as Error).message });
    }
    return lines;
  }

  /**
   * The policy for this and later tunnels. While the device is up the rules change at once, in one
   * transaction; a policy the kernel refuses leaves the previous one in force and throws.
   */
  async setPolicy(policy: ScopePolicy): Promise<void> {
    const prefix = policy.scope === "app" ? this.#cgroupPrefix(policy.cgroup) : "";
    await this.#serialized(async () => {
      if (this.#deviceUp) await this.#apply(policy, prefix);
      this.#policy = policy;
    });
  }

  async up(config: { privateKey: string; addresses: string[] }): Promise<void> {
    const policy = this.#policy;
    const prefix = policy.scope === "app" ? this.#cgroupPrefix(policy.cgroup) : "";
    // Rules first: they name the device, so they hold from the device's first packet.
    await this.#serialized(() => this.#apply(policy, prefix));
    try {
      await this.inner.up(config);
      this.#deviceUp = true;
    } catch (err) {
      await this.#serialized(() => this.#run({ json: removeRules(this.name) })).catch(() => {});
      throw err;
    }
  }

  setPeers(peers: TunnelPeer[], options: { replace?: boolean }): Promise<void> {
    return this.inner.setPeers(peers, options);
  }

  setRoutes(cidrs: string[]): Promise<unknown> {
    return this.inner.setRoutes(cidrs);
  }

  setFullTunnel(config: { routes: string[]; allowLan: boolean } | null): Promise<unknown> {
    return this.inner.setFullTunnel(config);
  }

  async down(): Promise<void> {
    try {
      await this.inner.down();
    } finally {
      this.#deviceUp = false;
      // After the device: while it exists, its rules stay.
      await this.#serialized(() => this.#run({ json: removeRules(this.name) })).catch((err: unknown) =>
        this.opts.logger.error("could not remove the session's nftables rules", {
          error: (err as Error).message,
        }),
      );
    }
  }

  async #apply(policy: ScopePolicy, prefix: string): Promise<void> {
    if (policy.scope === "system") {
      // Scope `system` needs no rules, so it needs no nft either (a container image ships none): a
      // table that cannot be removed is reported, and the tunnel comes up. What could be left is a
      // table of an earlier scoped session, which only refuses more, never lets more through.
      await this.#run({ json: removeRules(this.name) }).catch((err: unknown) =>
        this.opts.logger.warn("could not remove earlier scope rules; scope system needs none", {
          error: (err as Error).message,
        }),
      );
      return;
    }
    await this.#run({ json: scopeRules(this.name, policy) });
    if (policy.scope === "app") await this.#run({ script: appRules(this.name, policy.cgroup, prefix) });
  }

  /** Checks a cgroup before nft sees it, so the refusal says what to do. */
  #cgroupPrefix(cgroup: string): string {
    checkCgroup(cgroup);
    const text = (this.opts.mountinfo ?? (() => readFileSync("/proc/self/mountinfo", "utf8")))();
    const mount = cgroup2Mount(text);
    if (!mount) {
      throw new FzError(
        "invalid_request",
        "scope app needs the cgroup v2 hierarchy mounted at /sys/fs/cgroup (or /sys/fs/cgroup/unified), " +
          "and it is not; use scope user on this system",
      );
    }
    const dir = `${mount.mountPoint}/${cgroup}`;
    if (!existsSync(dir) || !statSync(dir).isDirectory()) {
      throw new FzError(
        "invalid_request",
        `there is no cgroup ${cgroup}; start the application in it first, e.g. ` +
          "systemd-run --user --scope -u firezone-app-NAME APP, then give the path shown by " +
          "systemctl --user status firezone-app-NAME.scope (the CGroup: line, without its leading /)",
      );
    }
    return mount.prefix;
  }

  #serialized<T>(work: () => Promise<T>): Promise<T> {
    const next = this.#serial.then(work, work);
    this.#serial = next.catch(() => {});
    return next;
  }
}
