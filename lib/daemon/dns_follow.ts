// Keeps DNS right while the network changes under a session (docs/dns.md, "When the network
// changes"): the file the system's servers come from is watched, and every network reset asks
// again, so the stub forwards to the servers of the network the machine is on now and, in
// resolv-conf mode, /etc/resolv.conf keeps naming the stub after a DHCP client rewrote it.
import { type FileWatch, type Logger, watchFile } from "../util/index.ts";

/** Why the system's DNS is looked at again: the watched file changed, or the session was reset. */
export type DnsFollowTrigger = "file changed" | "reset";

/** Another program's rewrites adopted per window before we stop fighting it (until the next reset). */
export const MAX_ADOPTIONS = 5;
export const ADOPTION_WINDOW_MS = 60_000;

export interface DnsFollowOptions {
  /** The file whose changes matter: resolved's list of servers, or /etc/resolv.conf. */
  path: string;
  /** Looks at the system's DNS again. Its errors are logged here. */
  refresh(trigger: DnsFollowTrigger): Promise<void>;
  logger: Logger;
  debounceMs?: number;
}

export class DnsFollower {
  #watch: FileWatch | null = null;
  #running: Promise<void> | null = null;
  #queued: DnsFollowTrigger | null = null;
  #adoptions: number[] = [];

  constructor(private readonly opts: DnsFollowOptions) {}

  start(): void {
    this.#watch ??= watchFile(this.opts.path, () => void this.kick("file changed"), {
      debounceMs: this.opts.debounceMs,
      onError: (err) =>
        this.opts.logger.warn(
          "DNS: cannot watch for changes; they are picked up at the next network change",
          {
            path: this.opts.path,
            error: err.message,
          },
        ),
    });
  }

  stop(): void {
    this.#watch?.close();
    this.#watch = null;
    this.#queued = null;
    this.#adoptions = [];
  }

  /**
   * Runs a refresh now, or once more after the one running (the last trigger wins, a reset over a
   * file change). Never rejects. A reset also forgives earlier fights over the file.
   */
  kick(trigger: DnsFollowTrigger): Promise<void> {
    if (trigger === "reset") this.#adoptions = [];
    if (this.#running) {
      if (this.#queued !== "reset") this.#queued = trigger;
      return this.#running;
    }
    this.#running = (async () => {
      let next: DnsFollowTrigger | null = trigger;
      while (next) {
        this.#queued = null;
        try {
          await this.opts.refresh(next);
        } catch (err) {
          this.opts.logger.error("DNS: could not re-apply the DNS configuration", {
            trigger: next,
            error: (err as Error).message,
          });
        }
        next = this.#queued;
      }
    })().finally(() => {
      this.#running = null;
    });
    return this.#running;
  }

  /** Whether another rewrite may be adopted now; false once another program keeps rewriting the file. */
  mayAdopt(now = Date.now()): boolean {
    this.#adoptions = this.#adoptions.filter((t) => now - t < ADOPTION_WINDOW_MS);
    return this.#adoptions.length < MAX_ADOPTIONS;
  }

  adopted(now = Date.now()): void {
    this.#adoptions.push(now);
  }
}
