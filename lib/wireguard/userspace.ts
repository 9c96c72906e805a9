// The userspace backend: Debian's wireguard-go, handed the TUN fd this process opened (WG_TUN_FD),
// configured over its UAPI socket, watched, and restarted with the same fd and configuration when
// it dies. Packets flow between the kernel and wireguard-go only; none pass through JavaScript.
import { existsSync, rmSync } from "node:fs";
import type { Subprocess } from "bun";
import { ERRNO_NAMES } from "../sys/index.ts";
import type { Logger } from "../util/index.ts";
import { applyChange, type WgBackend, type WgDevice } from "./model.ts";
import { decodeUapiGet, encodeUapiSet, UAPI_GET, uapiErrno } from "./uapi.ts";
import { uapiExchange, uapiSocketInUse } from "./uapi_client.ts";

export const WIREGUARD_GO = "/usr/bin/wireguard-go";
export const UAPI_DIR = "/var/run/wireguard";

/** "EINVAL" for 22; UAPI replies carry errno numbers, sometimes negative. */
function errnoName(code: number): string {
  return ERRNO_NAMES[Math.abs(code)] ?? `errno ${code}`;
}

export type BackendEvent =
  | { type: "backend_died"; pid: number; exitCode: number | null; signal: string | null; restarting: boolean }
  | { type: "backend_restarted"; pid: number; attempt: number }
  | { type: "backend_failed"; message: string };

export interface UserspaceOptions {
  name: string;
  tunFd: number;
  logger: Logger;
  binary?: string;
  uapiDir?: string;
  /** Restart wireguard-go when it dies (default true), at most `maxRestarts` times in a row. */
  restart?: boolean;
  maxRestarts?: number;
  onEvent?: (e: BackendEvent) => void;
  /** Called after a restarted wireguard-go has its configuration back (the caller resets the MTU). */
  onRestarted?: () => void;
  /** wireguard-go's LOG_LEVEL: "error" (default), "verbose" or "silent"; lines go to `logger.debug`. */
  logLevel?: "error" | "verbose" | "silent";
}

export class UserspaceBackend implements WgBackend {
  readonly kind = "userspace";
  readonly socketPath: string;
  readonly #o: UserspaceOptions;
  #proc: Subprocess<"ignore", "pipe", "pipe"> | null = null;
  #state: WgDevice = {};
  #stopping = false;
  #restarts = 0;
  /** Set while a restart is under way; configuration calls wait for it. */
  #restarting: Promise<void> | null = null;
  #starting = false;
  /** wireguard-go's last output lines, quoted when it fails to start. */
  #recent: string[] = [];

  constructor(options: UserspaceOptions) {
    this.#o = options;
    this.socketPath = `${options.uapiDir ?? UAPI_DIR}/${options.name}.sock`;
  }

  get pid(): number | null {
    return this.#proc?.pid ?? null;
  }

  /** Starts wireguard-go and waits until its UAPI socket answers. */
  async start(): Promise<void> {
    this.#starting = true;
    try {
      await this.#start();
    } finally {
      this.#starting = false;
    }
  }

  async #start(): Promise<void> {
    this.#stopping = false;
    // wireguard-go replaces a stale socket itself; a live one belongs to an instance in another
    // network namespace using the same name, and talking to it would configure the wrong device.
    if (await uapiSocketInUse(this.socketPath))
      throw new Error(
        `${this.socketPath} is in use by another wireguard-go (in another network namespace?). Pick another interface name.`,
      );
    const binary = this.#o.binary ?? WIREGUARD_GO;
    if (!existsSync(binary))
      throw new Error(`${binary} is missing. Install it: apt-get install wireguard-go`);
    // The TUN fd goes into slot 3 of the child; dup2 there clears its close-on-exec flag.
    const proc = Bun.spawn([binary, "-f", this.#o.name], {
      stdio: ["ignore", "pipe", "pipe", this.#o.tunFd],
      env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", WG_TUN_FD: "3", LOG_LEVEL: this.#o.logLevel ?? "error" },
    }) as unknown as Subprocess<"ignore", "pipe", "pipe">;
    this.#proc = proc;
    this.#pipeLogs(proc);
    proc.exited.then(() => this.#onExit(proc));
    const until = Date.now() + 5000;
    for (;;) {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        await Bun.sleep(20); // let its last words arrive through the pipes
        throw new Error(
          `wireguard-go exited at start (code ${proc.exitCode}, signal ${proc.signalCode}): ${this.#recent.join(" | ")}`,
        );
      }
      if (existsSync(this.socketPath)) {
        try {
          uapiErrno(await uapiExchange(this.socketPath, UAPI_GET, 1000));
          break;
        } catch {
          // The socket file appears a moment before wireguard-go accepts on it.
        }
      }
      if (Date.now() > until) {
        proc.kill("SIGKILL");
        throw new Error(`wireguard-go did not open ${this.socketPath} within 5 s`);
      }
      await Bun.sleep(5);
    }
    this.#o.logger.info("wireguard-go started", { pid: proc.pid, socket: this.socketPath });
  }

  async setDevice(change: WgDevice): Promise<void> {
    await this.#running();
    await this.#set(change);
    this.#state = applyChange(this.#state, change);
  }

  async #running(): Promise<void> {
    if (this.#restarting) await this.#restarting;
    if (!this.#proc)
      throw new Error(
        "wireguard-go is not running (it died and was not restarted); take the tunnel down and up again",
      );
  }

  async #set(change: WgDevice): Promise<void> {
    const code = uapiErrno(await uapiExchange(this.socketPath, encodeUapiSet(change)));
    if (code !== 0) throw new Error(`wireguard-go refused the configuration: ${errnoName(code)}`);
  }

  async getDevice(): Promise<WgDevice> {
    await this.#running();
    const reply = await uapiExchange(this.socketPath, UAPI_GET);
    const code = uapiErrno(reply);
    if (code !== 0) throw new Error(`wireguard-go could not report the device: ${errnoName(code)}`);
    return { ...decodeUapiGet(reply), name: this.#o.name };
  }

  /** Stops wireguard-go: SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 2000): Promise<void> {
    this.#stopping = true;
    const proc = this.#proc;
    this.#proc = null;
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), graceMs);
      await proc.exited;
      clearTimeout(timer);
    }
    // wireguard-go removes its socket on SIGTERM; after SIGKILL the file stays, unanswered.
    if (!(await uapiSocketInUse(this.socketPath))) rmSync(this.socketPath, { force: true });
  }

  #onExit(proc: Subprocess): void {
    if (this.#stopping || this.#starting || proc !== this.#proc) return;
    const max = this.#o.maxRestarts ?? 5;
    const restarting = (this.#o.restart ?? true) && this.#restarts < max;
    const event = {
      type: "backend_died" as const,
      pid: proc.pid,
      exitCode: proc.exitCode,
      signal: proc.signalCode === null ? null : String(proc.signalCode),
      restarting,
    };
    this.#o.logger.warn("wireguard-go died", event);
    this.#o.onEvent?.(event);
    this.#proc = null;
    if (restarting) {
      this.#restarting = this.#restart().finally(() => {
        this.#restarting = null;
      });
    }
  }

  async #restart(): Promise<void> {
    const max = this.#o.maxRestarts ?? 5;
    while (this.#restarts < max) {
      const attempt = ++this.#restarts;
      // The first restart is immediate; repeated deaths back off 200 ms, 400 ms, ... up to 5 s.
      if (attempt > 1) await Bun.sleep(Math.min(5000, 200 * 2 ** (attempt - 2)));
      if (this.#stopping) return;
      try {
        await this.start();
        await this.#set({ ...this.#state, replacePeers: true });
        this.#o.onRestarted?.();
        this.#o.onEvent?.({ type: "backend_restarted", pid: this.#proc?.pid ?? 0, attempt });
        // A backend that stays up for a minute has recovered; later deaths start the count again.
        setTimeout(() => {
          if (this.#restarts === attempt) this.#restarts = 0;
        }, 60_000).unref();
        return;
      } catch (e) {
        this.#o.logger.warn("wireguard-go restart failed", { attempt, error: (e as Error).message });
        const proc = this.#proc;
        this.#proc = null;
        proc?.kill("SIGKILL");
      }
    }
    const message = `wireguard-go died and could not be restarted after ${max} attempts`;
    this.#o.logger.error(message);
    this.#o.onEvent?.({ type: "backend_failed", message });
  }

  #pipeLogs(proc: Subprocess<"ignore", "pipe", "pipe">): void {
    const log = this.#o.logger;
    const pump = async (stream: ReadableStream<Uint8Array>) => {
      let rest = "";
      const dec = new TextDecoder();
      for await (const chunk of stream) {
        const lines = (rest + dec.decode(chunk, { stream: true })).split("\n");
        rest = lines.pop() ?? "";
        for (const line of lines.map((l) => l.trim()).filter(Boolean)) {
          log.debug("wireguard-go", { line });
          this.#recent = [...this.#recent.slice(-4), line];
        }
      }
    };
    void pump(proc.stdout);
    void pump(proc.stderr);
  }
}
