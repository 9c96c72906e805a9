// The system D-Bus for talking to systemd-resolved (opened through lib/util/dbus_bus.ts).
import {
  type ClientInterface,
  closeUnixBus,
  type MessageBus,
  openUnixBus,
  SYSTEM_BUS_SOCKET,
  unixPathOf,
} from "../util/index.ts";

export type { ClientInterface, MessageBus };

/** The system bus socket: DBUS_SYSTEM_BUS_ADDRESS (unix:path= only) or the standard path. */
export function systemBusPath(env: Record<string, string | undefined> = process.env): string {
  const address = env.DBUS_SYSTEM_BUS_ADDRESS;
  return (address && unixPathOf(address)) || SYSTEM_BUS_SOCKET;
}

export function openSystemBus(path = systemBusPath()): MessageBus {
  const bus = openUnixBus(path, "system bus");
  // Errors surface through the calls that fail; an idle bus closing must not throw from an emit.
  bus.on("error", () => {});
  return bus;
}

export const closeSystemBus = closeUnixBus;
