// The addresses the portal's host resolves to, collected over a session (at sign-in, on every
// reconnect, after a reset): the tunnel's routes are cut around them, so the connection to the
// portal never goes into the tunnel it configures.
import { lookup } from "node:dns/promises";
import type { Logger } from "../util/index.ts";
import type { PortalConfig } from "./config.ts";

/** The portal's addresses kept per session: enough for round-robin DNS, bounded all the same. */
const MAX_PORTAL_ADDRESSES = 32;

const lookupAll = async (host: string): Promise<string[]> =>
  (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);

export interface PortalAddressesOptions {
  logger: Logger;
  /** The portal host's addresses, resolved off the event loop; default node:dns lookup (all). */
  resolve?: ((host: string) => Promise<string[]>) | undefined;
}

export class PortalAddresses {
  #list: string[] = [];

  constructor(private readonly opts: PortalAddressesOptions) {}

  /** Every address seen in this session, oldest first. */
  get list(): string[] {
    return this.#list;
  }

  clear(): void {
    this.#list = [];
  }

  /**
   * Resolves the portal's host again and keeps the addresses not seen before. True when there were
   * new ones (the caller replans). `stale()` says the session moved on meanwhile: the answer is
   * dropped. Never throws: a failure is logged and routes are planned without it.
   */
  async refresh(config: PortalConfig, stale: () => boolean): Promise<boolean> {
    if (!config.configured) return false;
    let host: string;
    try {
      host = new URL(config.url).hostname.replace(/^\[(.*)\]$/, "$1");
    } catch {
      return false;
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const found = await Promise.race([
        (this.opts.resolve ?? lookupAll)(host),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error("no answer within 5 s")), 5000);
        }),
      ]);
      if (stale()) return false;
      const fresh = found.filter((a) => !this.#list.includes(a));
      if (fresh.length === 0) return false;
      this.#list = [...this.#list, ...fresh].slice(-MAX_PORTAL_ADDRESSES);
      return true;
    } catch (err) {
      this.opts.logger.warn("could not resolve the portal's address; routes are not cut around it", {
        host,
        error: err instanceof Error ? err.message : String(err),
      });
      return false;
    } finally {
      clearTimeout(timer);
    }
  }
}
