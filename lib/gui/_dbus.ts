// dbus-next, entered through its parts (see lib/util/dbus_bus.ts for why): the classes the tray
// exports its objects with, and the session bus opened on a unix:path= address.
import type dbusTypes from "dbus-next";
// @ts-expect-error: internal module of dbus-next 0.10.2, typed below through dbus-next's own types
import constants from "dbus-next/lib/constants.js";
// @ts-expect-error: internal module
import errors from "dbus-next/lib/errors.js";
// @ts-expect-error: internal module
import iface from "dbus-next/lib/service/interface.js";
// @ts-expect-error: internal module
import variant from "dbus-next/lib/variant.js";
import {
  type ClientInterface,
  closeUnixBus,
  type MessageBus,
  openUnixBus,
  unixPathOf,
} from "../util/index.ts";

export type { ClientInterface, MessageBus };
export const Interface: typeof dbusTypes.interface.Interface = iface.Interface;
export const Variant: typeof dbusTypes.Variant = variant.Variant;
export type Variant = dbusTypes.Variant;
export const DBusError: typeof dbusTypes.DBusError = errors.DBusError;
export const NameFlag: typeof dbusTypes.NameFlag = constants.NameFlag;
export const RequestNameReply: typeof dbusTypes.RequestNameReply = constants.RequestNameReply;

/** Disconnects without reporting the closed connection as an error. */
export const closeBus = closeUnixBus;

/** Opens a MessageBus on a `unix:path=` address. */
export function openBus(address: string): MessageBus {
  const path = unixPathOf(address);
  if (!path)
    throw new Error(`unsupported D-Bus address '${address}': firezone-gui needs a unix:path= address`);
  return openUnixBus(path, "session bus");
}
