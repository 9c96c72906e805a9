// The tunnel interface as the portal assigns it: the device's addresses, the upstream DNS servers
// and the search domains. Addresses outside the tunnel pools are refused where they arrive.
import type { InterfaceConfig, InterfaceEntry } from "../portal/index.ts";
import { type Logger, TUNNEL_POOL_V4, TUNNEL_POOL_V6 } from "../util/index.ts";
import type { SessionResources } from "./session_resources.ts";

export interface SessionInterfaceOptions {
  logger: Logger;
  /** Where warnings about the interface are shown (keys "interface" and "search_domain"). */
  resources: SessionResources;
}

/** Taken, or refused with the session's last error. */
export type InterfaceOutcome = { ok: true } | { ok: false; lastError: string };

export class SessionInterface {
  #addresses: string[] = [];
  #upstreamDns: string[] = [];
  /** The portal's search_domain, for systemd-resolved's link domains and resolv.conf's `search`. */
  #searchDomains: string[] = [];

  constructor(private readonly opts: SessionInterfaceOptions) {}

  /** The device's addresses (/32 and /128); empty while there is no tunnel. */
  get addresses(): string[] {
    return this.#addresses;
  }

  get upstreamDns(): string[] {
    return this.#upstreamDns;
  }

  get searchDomains(): string[] {
    return this.#searchDomains;
  }

  clear(): void {
    this.#addresses = [];
    this.#upstreamDns = [];
    this.#searchDomains = [];
  }

  /**
   * Interface addresses outside the pools are refused: no tunnel, and the reason in lastError. On a
   * later config_changed the addresses in force are kept instead, with a warning.
   */
  take(entry: InterfaceEntry, from: "init" | "config_changed"): InterfaceOutcome {
    const { resources, logger } = this.opts;
    if (entry.ok) {
      this.#set(entry.value);
      resources.clearWarning("interface");
      if (entry.warning)
        resources.warn("search_domain", `The portal's search domain is not used: ${entry.warning}`, {});
      else resources.clearWarning("search_domain");
      return { ok: true };
    }
    const reason = entry.reason;
    logger.warn("refusing the tunnel addresses the portal sent", { event: from, reason });
    if (from === "config_changed" && this.#addresses.length > 0) {
      resources.setWarning(
        "interface",
        `The portal sent new tunnel addresses this client refuses (${reason}); the current ones stay in use.`,
      );
      return { ok: true };
    }
    this.#addresses = [];
    return {
      ok: false,
      lastError:
        `The portal assigned tunnel addresses this client refuses: ${reason}. No tunnel is set up. ` +
        `Ask the portal's administrator to assign addresses from ${TUNNEL_POOL_V4} and ${TUNNEL_POOL_V6}.`,
    };
  }

  #set(iface: InterfaceConfig): void {
    this.#addresses = [`${iface.ipv4}/32`, `${iface.ipv6}/128`];
    this.#upstreamDns = [...iface.upstream_dns];
    this.#searchDomains = iface.search_domain ? [iface.search_domain] : [];
  }
}
