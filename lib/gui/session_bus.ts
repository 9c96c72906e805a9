// Connects to the desktop session's D-Bus, where the tray host, the notification server and the
// keyring live.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { closeBus, type MessageBus, openBus } from "./_dbus.ts";

export { closeBus };

/** The session bus address: DBUS_SESSION_BUS_ADDRESS, else systemd's $XDG_RUNTIME_DIR/bus. */
export function sessionBusAddress(env: Record<string, string | undefined>): string | null {
  if (env.DBUS_SESSION_BUS_ADDRESS) return env.DBUS_SESSION_BUS_ADDRESS;
  const runtime = env.XDG_RUNTIME_DIR;
  if (runtime && existsSync(join(runtime, "bus"))) return `unix:path=${join(runtime, "bus")}`;
  return null;
}

/** Resolves once the bus has answered a first call, so a dead address fails here and not later. */
export async function connectSessionBus(
  env: Record<string, string | undefined>,
  timeoutMs = 5000,
): Promise<MessageBus> {
  const address = sessionBusAddress(env);
  if (!address) {
    throw new Error(
      "no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set and $XDG_RUNTIME_DIR/bus does not exist). " +
        "Start firezone-gui from your desktop session.",
    );
  }
  const bus = openBus(address);
  let onError: (err: unknown) => void = () => {};
  const failed = new Promise<never>((_, reject) => {
    onError = (err) =>
      reject(new Error(`cannot connect to the session bus at ${address}: ${(err as Error).message ?? err}`));
    bus.once("error", onError);
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`the session bus at ${address} did not answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    await Promise.race([
      bus.getProxyObject("org.freedesktop.DBus", "/org/freedesktop/DBus"),
      failed,
      timeout,
    ]);
    return bus;
  } catch (err) {
    closeBus(bus);
    throw err;
  } finally {
    clearTimeout(timer);
    bus.removeListener("error", onError);
  }
}
