// dbus-next, entered through its parts. Its index also loads an X11 session-address lookup that
// requires the optional 'x11' package, which `bun build --compile` cannot resolve; firezone-gui only
// needs unix:path= addresses, so it builds its MessageBus from the same parts (dbus-next is pinned).
import { EventEmitter } from "node:events";
import { createConnection } from "node:net";
import type dbusTypes from "dbus-next";
// @ts-expect-error: internal module of dbus-next 0.10.2, typed below through dbus-next's own types
import MessageBusImpl from "dbus-next/lib/bus.js";
// @ts-expect-error: internal module
import constants from "dbus-next/lib/constants.js";
// @ts-expect-error: internal module
import errors from "dbus-next/lib/errors.js";
// @ts-expect-error: internal module
import clientHandshake from "dbus-next/lib/handshake.js";
// @ts-expect-error: internal module
import compat from "dbus-next/lib/marshall-compat.js";
// @ts-expect-error: internal module
import wire from "dbus-next/lib/message.js";
// @ts-expect-error: internal module
import messageType from "dbus-next/lib/message-type.js";
// @ts-expect-error: internal module
import iface from "dbus-next/lib/service/interface.js";
// @ts-expect-error: internal module
import variant from "dbus-next/lib/variant.js";

export type MessageBus = dbusTypes.MessageBus;
export type ClientInterface = dbusTypes.ClientInterface;
export const Interface: typeof dbusTypes.interface.Interface = iface.Interface;
export const Variant: typeof dbusTypes.Variant = variant.Variant;
export type Variant = dbusTypes.Variant;
export const DBusError: typeof dbusTypes.DBusError = errors.DBusError;
export const NameFlag: typeof dbusTypes.NameFlag = constants.NameFlag;
export const RequestNameReply: typeof dbusTypes.RequestNameReply = constants.RequestNameReply;

/** The unix socket path of a `unix:path=...` address (the first one, when several are listed). */
export function unixPathOf(address: string): string | null {
  for (const part of address.split(";")) {
    const [family, params = ""] = part.split(/:(.*)/s);
    if (family !== "unix") continue;
    for (const kv of params.split(",")) {
      const [k, v] = kv.split(/=(.*)/s);
      if (k === "path" && v) return decodeURIComponent(v);
    }
  }
  return null;
}

/** dbus-next's connection object over a plain unix stream, as its createConnection builds it. */
function connection(path: string): EventEmitter {
  const self = new EventEmitter() as EventEmitter & Record<string, unknown>;
  const stream = createConnection(path);
  self.stream = stream;
  stream.on("error", (err) => self.emit("error", err));
  // dbus-next's bus only forwards "error": make the bus going away (logout) one, so the GUI exits.
  stream.on("close", () => self.emit("error", new Error("the session bus closed the connection")));
  stream.on("end", () => {
    self.emit("end");
    self.message = () => self.emit("error", new Error("Tried to write a message to a closed stream"));
  });
  self.end = () => {
    stream.end();
    return self;
  };
  const queued: unknown[] = [];
  self.message = (msg: unknown) => queued.push(msg);
  const send = (msg: unknown) => {
    if (!stream.writable) throw new Error("Cannot send message, stream is closed");
    stream.write(compat.marshallMessage(msg)[0]);
  };
  stream.once("connect", () =>
    clientHandshake(stream, {}, (error: Error | null, guid: string) => {
      if (error) return self.emit("error", error);
      self.guid = guid;
      self.state = "connected";
      self.message = send;
      for (const msg of queued.splice(0)) send(msg);
      self.emit("connect");
      wire.unmarshalMessages(
        stream,
        (raw: unknown) => {
          try {
            self.emit("message", new messageType.Message(compat.messageToJsFmt(raw)));
          } catch (err) {
            self.emit("error", err);
          }
        },
        {},
      );
    }),
  );
  return self;
}

/** Disconnects without reporting the closed connection as an error. */
export function closeBus(bus: MessageBus): void {
  bus.removeAllListeners("error");
  bus.on("error", () => {});
  bus.disconnect();
}

/** Opens a MessageBus on a `unix:path=` address. */
export function openBus(address: string): MessageBus {
  const path = unixPathOf(address);
  if (!path)
    throw new Error(`unsupported D-Bus address '${address}': firezone-gui needs a unix:path= address`);
  return new MessageBusImpl(connection(path)) as MessageBus;
}
