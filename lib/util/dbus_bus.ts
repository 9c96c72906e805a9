// A dbus-next MessageBus over a plain unix stream, built from dbus-next's parts. Its index also
// loads an X11 session-address lookup that requires the optional 'x11' package, which
// `bun build --compile` cannot resolve; the tray (session bus) and DNS control (system bus) only
// need unix:path= addresses, so both open their buses here (dbus-next is pinned at 0.10.2).
import { EventEmitter } from "node:events";
import { createConnection } from "node:net";
import type dbusTypes from "dbus-next";
// @ts-expect-error: internal module of dbus-next 0.10.2, typed through dbus-next's own types
import MessageBusImpl from "dbus-next/lib/bus.js";
// @ts-expect-error: internal module
import clientHandshake from "dbus-next/lib/handshake.js";
// @ts-expect-error: internal module
import compat from "dbus-next/lib/marshall-compat.js";
// @ts-expect-error: internal module
import wire from "dbus-next/lib/message.js";
// @ts-expect-error: internal module
import messageType from "dbus-next/lib/message-type.js";

export type MessageBus = dbusTypes.MessageBus;
export type ClientInterface = dbusTypes.ClientInterface;

/** Where the system bus listens unless DBUS_SYSTEM_BUS_ADDRESS says otherwise. */
export const SYSTEM_BUS_SOCKET = "/run/dbus/system_bus_socket";

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

/** dbus-next's connection object over a unix stream, as its createConnection builds it. */
function connection(path: string, label: string): EventEmitter {
  const self = new EventEmitter() as EventEmitter & Record<string, unknown>;
  const stream = createConnection(path);
  self.stream = stream;
  stream.on("error", (err) => self.emit("error", err));
  // dbus-next's bus only forwards "error": the bus going away (logout, a restart) must be one.
  stream.on("close", () => self.emit("error", new Error(`the ${label} closed the connection`)));
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

/** A MessageBus on the unix socket `path`; `label` names the bus in errors ("session bus"). */
export function openUnixBus(path: string, label: string): MessageBus {
  return new MessageBusImpl(connection(path, label)) as MessageBus;
}

/** Disconnects without reporting the closed connection as an error. */
export function closeUnixBus(bus: MessageBus): void {
  bus.removeAllListeners("error");
  bus.on("error", () => {});
  bus.disconnect();
}
