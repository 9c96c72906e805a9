// What resets the session by itself: the network monitor (lib/daemon/network_watch.ts) and
// wake-ups (lib/daemon/sleep_watch.ts). SIGHUP is the third trigger, in lib/daemon/run.ts.
import { type Logger, SYSTEM_BUS_SOCKET, unixPathOf } from "../util/index.ts";
import { ROUTE_PROTOCOL } from "../wireguard/index.ts";
import { type Resettable, resetSession } from "./network_reset.ts";
import { NetworkWatch } from "./network_watch.ts";
import { SleepWatch } from "./sleep_watch.ts";

export interface TriggerSettings {
  /** Follow the kernel's network notifications (default on; `FIREZONE_NETWORK_MONITOR=off`). */
  monitor: boolean;
  /**
   * The monitor socket's receive buffer in bytes (`FIREZONE_NETWORK_MONITOR_BUFFER`); unset, the
   * monitor's default. The kernel drops notifications that do not fit, and the monitor then
   * re-reads the network (docs/session.md).
   */
  monitorBufferBytes?: number;
  /** The system bus socket for logind's signals. */
  systemBus: string;
  /** What was wrong with the environment, if anything (the default was taken instead). */
  problems: string[];
}

/** Bounds of FIREZONE_NETWORK_MONITOR_BUFFER: the kernel's own floor is about 4.5 KiB. */
export const MONITOR_BUFFER_MIN = 4096;
export const MONITOR_BUFFER_MAX = 64 * 1024 * 1024;

/**
 * The knobs, parsed where they enter: FIREZONE_NETWORK_MONITOR (on/off),
 * FIREZONE_NETWORK_MONITOR_BUFFER (bytes) and the standard DBUS_SYSTEM_BUS_ADDRESS (only
 * `unix:path=`; anything else means the standard socket).
 */
export function triggerSettings(env: Record<string, string | undefined>): TriggerSettings {
  const problems: string[] = [];
  let monitor = true;
  const raw = env.FIREZONE_NETWORK_MONITOR?.trim().toLowerCase();
  if (raw === "off" || raw === "0" || raw === "false") monitor = false;
  else if (raw !== undefined && raw !== "" && raw !== "on" && raw !== "1" && raw !== "true")
    problems.push(
      `FIREZONE_NETWORK_MONITOR="${raw.slice(0, 20)}" is not on or off; the network monitor stays on.`,
    );
  let monitorBufferBytes: number | undefined;
  const buffer = env.FIREZONE_NETWORK_MONITOR_BUFFER?.trim();
  if (buffer) {
    const n = /^\d{1,9}$/.test(buffer) ? Number(buffer) : Number.NaN;
    if (n >= MONITOR_BUFFER_MIN && n <= MONITOR_BUFFER_MAX) monitorBufferBytes = n;
    else
      problems.push(
        `FIREZONE_NETWORK_MONITOR_BUFFER="${buffer.slice(0, 20)}" is not a number of bytes from ` +
          `${MONITOR_BUFFER_MIN} to ${MONITOR_BUFFER_MAX}; the monitor keeps its default buffer.`,
      );
  }
  const address = env.DBUS_SYSTEM_BUS_ADDRESS;
  const path = address ? unixPathOf(address) : null;
  if (address && !path)
    problems.push(
      `DBUS_SYSTEM_BUS_ADDRESS has no unix:path= address; using ${SYSTEM_BUS_SOCKET} for logind's signals.`,
    );
  return {
    monitor,
    ...(monitorBufferBytes ? { monitorBufferBytes } : {}),
    systemBus: path ?? SYSTEM_BUS_SOCKET,
    problems,
  };
}

export interface ResetTriggersOptions {
  session: Resettable;
  tunnelName: string;
  settings: TriggerSettings;
  logger: Logger;
}

/** Starts both watchers; stop() ends them. A watcher that cannot start is logged, never fatal. */
export function startResetTriggers(options: ResetTriggersOptions): { stop(): void } {
  const { session, settings, logger } = options;
  for (const p of settings.problems) logger.warn(p);
  let network: NetworkWatch | null = null;
  if (settings.monitor) {
    network = new NetworkWatch({
      tunnelName: options.tunnelName,
      tunnelProtocol: ROUTE_PROTOCOL,
      logger: logger.child("network"),
      ...(settings.monitorBufferBytes ? { receiveBufferBytes: settings.monitorBufferBytes } : {}),
      onChange: (reasons) => resetSession(session, "network changed", reasons.join("; "), logger),
      // WireGuard's paths at once; the portal waits for the burst to end (docs/session.md).
      onChanging: () => session.refreshPaths?.(),
    });
    try {
      network.start();
      logger.debug("following the network's changes", {
        buffer: settings.monitorBufferBytes ?? "default",
      });
    } catch (err) {
      logger.warn("cannot follow network changes; the session notices them only when the portal drops", {
        error: (err as Error).message,
      });
      network = null;
    }
  } else logger.info("the network monitor is off (FIREZONE_NETWORK_MONITOR=off)");
  const sleep = new SleepWatch({
    busPath: settings.systemBus,
    logger: logger.child("sleep"),
    onWake: (how) => resetSession(session, "woke from sleep", how, logger),
  });
  void sleep.start();
  return {
    stop: () => {
      network?.stop();
      sleep.stop();
    },
  };
}
