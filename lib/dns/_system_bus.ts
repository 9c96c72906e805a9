// The system D-Bus for talking to systemd-resolved, through dbus-next's parts: its index loads an
// X11 address lookup needing the optional 'x11' package, which `bun build --compile` cannot
// resolve (lib/gui/_dbus.ts does the same for the session bus; both belong in one shared module).
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

export const SYSTEM_BUS_SOCKET = "/run/dbus/system_bus_socket";

/** The system bus socket: DBUS_SYSTEM_BUS_ADDRESS (unix:path= only) or the standard path. */
export function systemBusPath(env: Record<string, string | undefined> = process.env): string {
  const address = env.DBUS_SYSTEM_BUS_ADDRESS;
  const m = address ? /^unix:path=([^,;]+)/.exec(address) : null;
  return m ? decodeURIComponent(m[1]!) : SYSTEM_BUS_SOCKET;
}

function connection(path: string): EventEmitter {
  const self = new EventEmitter() as EventEmitter & Record<string, unknown>;
  const stream = createConnection(path);
  self.stream = stream;
  stream.on("error", (err) => self.emit("error", err));
  stream.on("close", () => self.emit("error", new Error("the system bus closed the connection")));
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

export function openSystemBus(path = systemBusPath()): MessageBus {
  const bus = new MessageBusImpl(connection(path)) as MessageBus;
  // Errors surface through the calls that fail; an idle bus closing must not throw from an emit.
  bus.on("error", () => {});
  return bus;
}

export function closeSystemBus(bus: MessageBus): void {
  bus.removeAllListeners("error");
  bus.on("error", () => {});
  bus.disconnect();
}
