// Wake-ups: logind's PrepareForSleep(false) on the system bus, believed only when it comes from the
// connection that owns org.freedesktop.login1 (any client of the bus can send a signal that looks
// the same), and, where there is no logind (containers), a jump of the wall clock past the
// monotonic one, which stands still while the machine sleeps.
import { closeUnixBus, type Logger, type MessageBus, openUnixBus } from "../util/index.ts";

const LOGIND = "org.freedesktop.login1";
const LOGIND_PATH = "/org/freedesktop/login1";
const LOGIND_MANAGER = "org.freedesktop.login1.Manager";
const BUS = "org.freedesktop.DBus";
const BUS_PATH = "/org/freedesktop/DBus";
const SIGNAL = 4;

/** How often the clock fallback looks at the clocks. */
export const CLOCK_CHECK_MS = 5000;
/** The wall clock ran this much further than the monotonic clock between two checks: a sleep. */
export const CLOCK_JUMP_MS = 10_000;

export interface SleepWatchOptions {
  /** The system bus socket path (lib/dns's systemBusPath: DBUS_SYSTEM_BUS_ADDRESS or the standard one). */
  busPath: string;
  /** The machine woke up (`how`: "logind" or "clock jump"). Must not throw. */
  onWake: (how: string) => void;
  logger: Logger;
  openBus?: (path: string) => MessageBus;
  /** Clocks for the fallback; tests inject their own. */
  wallNow?: () => number;
  monotonicNow?: () => number;
  clockCheckMs?: number;
}

/** The bus driver's methods used here (dbus-next builds them from introspection). */
interface BusDriver {
  AddMatch(rule: string): Promise<void>;
  GetNameOwner(name: string): Promise<string>;
}

interface RawMessage {
  type: number;
  sender?: string;
  path?: string;
  interface?: string;
  member?: string;
  body?: unknown[];
}

/** Follows sleep and wake until stop(). Never throws from start(): a missing bus means the fallback only. */
export class SleepWatch {
  readonly #o: SleepWatchOptions;
  #bus: MessageBus | null = null;
  /** The unique name that owns org.freedesktop.login1, as the bus itself reports it. */
  #owner: string | null = null;
  #clock: ReturnType<typeof setInterval> | null = null;
  #stopped = false;

  constructor(options: SleepWatchOptions) {
    this.#o = options;
  }

  /** Whether logind's signals are being followed (the bus answered and logind owns its name). */
  get logindOwner(): string | null {
    return this.#owner;
  }

  async start(): Promise<void> {
    this.#stopped = false;
    this.#startClock();
    await this.#startBus().catch((err: unknown) => {
      this.#o.logger.info("no logind on the system bus; waking up is noticed by the clock only", {
        error: err instanceof Error ? err.message : String(err),
      });
      this.#closeBus();
    });
  }

  stop(): void {
    this.#stopped = true;
    if (this.#clock) clearInterval(this.#clock);
    this.#clock = null;
    this.#closeBus();
  }

  #startClock(): void {
    const wall = this.#o.wallNow ?? Date.now;
    const mono = this.#o.monotonicNow ?? (() => performance.now());
    let lastWall = wall();
    let lastMono = mono();
    this.#clock = setInterval(() => {
      const w = wall();
      const m = mono();
      const jump = w - lastWall - (m - lastMono);
      lastWall = w;
      lastMono = m;
      // Forward only: a clock set back (NTP after a bad RTC) is not a sleep.
      if (jump >= CLOCK_JUMP_MS) {
        this.#o.logger.info("the wall clock jumped ahead of the monotonic clock: the machine slept", {
          seconds: Math.round(jump / 1000),
        });
        this.#wake("clock jump");
      }
    }, this.#o.clockCheckMs ?? CLOCK_CHECK_MS);
    // The fallback must not keep a finished daemon alive.
    (this.#clock as { unref?: () => void }).unref?.();
  }

  async #startBus(): Promise<void> {
    const bus = (this.#o.openBus ?? ((p) => openUnixBus(p, "system bus")))(this.#o.busPath);
    this.#bus = bus;
    // dbus-next leaves calls pending when the connection fails: the first error ends the start.
    let fail: (err: Error) => void = () => {};
    const failed = new Promise<never>((_, reject) => {
      fail = reject;
    });
    failed.catch(() => {});
    const timer = setTimeout(() => fail(new Error(`no answer from ${this.#o.busPath} within 5 s`)), 5000);
    bus.on("error", (err: unknown) => {
      fail(err instanceof Error ? err : new Error(String(err)));
      if (this.#bus !== bus) return;
      this.#o.logger.warn("the system bus connection failed; waking up is noticed by the clock only", {
        error: err instanceof Error ? err.message : String(err),
      });
      this.#closeBus();
    });
    try {
      await Promise.race([this.#subscribe(bus), failed]);
    } finally {
      clearTimeout(timer);
    }
    if (this.#stopped) this.#closeBus();
    else this.#o.logger.info("following logind's sleep signals", { owner: this.#owner ?? "none yet" });
  }

  async #subscribe(bus: MessageBus): Promise<void> {
    bus.on("message", (msg: RawMessage) => {
      try {
        this.#onMessage(msg);
      } catch (err) {
        this.#o.logger.error("a system bus message could not be handled", { error: err });
      }
    });
    const driver = (await bus.getProxyObject(BUS, BUS_PATH)).getInterface(BUS) as unknown as BusDriver;
    // Every PrepareForSleep, whoever sends it, so a forged one is seen (and refused) in the log.
    await driver.AddMatch(
      `type='signal',path='${LOGIND_PATH}',interface='${LOGIND_MANAGER}',member='PrepareForSleep'`,
    );
    await driver.AddMatch(
      `type='signal',sender='${BUS}',path='${BUS_PATH}',interface='${BUS}',member='NameOwnerChanged',arg0='${LOGIND}'`,
    );
    try {
      this.#owner = await driver.GetNameOwner(LOGIND);
    } catch {
      // Not owned (yet): NameOwnerChanged says when logind takes it.
      this.#owner = null;
    }
  }

  #onMessage(msg: RawMessage): void {
    if (msg.type !== SIGNAL) return;
    // Only the bus itself sends as org.freedesktop.DBus; no client can take that name.
    if (msg.sender === BUS && msg.member === "NameOwnerChanged" && msg.interface === BUS) {
      const [name, , owner] = (msg.body ?? []) as [unknown, unknown, unknown];
      if (name === LOGIND) this.#owner = typeof owner === "string" && owner !== "" ? owner : null;
      return;
    }
    if (msg.path !== LOGIND_PATH || msg.interface !== LOGIND_MANAGER || msg.member !== "PrepareForSleep")
      return;
    if (!msg.sender || msg.sender !== this.#owner) {
      this.#o.logger.warn("refused a PrepareForSleep signal that does not come from logind", {
        sender: String(msg.sender ?? "?").slice(0, 64),
        owner: this.#owner ?? "none",
      });
      return;
    }
    const sleeping = msg.body?.[0];
    if (typeof sleeping !== "boolean") return;
    if (sleeping) this.#o.logger.info("the machine is going to sleep");
    else this.#wake("logind");
  }

  #wake(how: string): void {
    if (this.#stopped) return;
    try {
      this.#o.onWake(how);
    } catch (err) {
      this.#o.logger.error("reacting to a wake-up failed", { error: err });
    }
  }

  #closeBus(): void {
    const bus = this.#bus;
    this.#bus = null;
    this.#owner = null;
    if (bus) {
      try {
        closeUnixBus(bus);
      } catch {
        // already gone
      }
    }
  }
}
