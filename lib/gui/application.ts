// org.freedesktop.Application on the session bus, so deep links arrive as D-Bus messages and never in
// any process's argv. With `DBusActivatable=true` in dev.firezone.client.desktop, GIO (gio open,
// xdg-open on GNOME, Cinnamon and MATE, exo-open on Xfce, and browsers that open links through GIO
// in-process such as Firefox) calls Open(uris) on this object; the bus starts firezone-gui first
// through its D-Bus service file when none runs.
import type { Logger } from "../util/index.ts";
import { Interface, type MessageBus, NameFlag, RequestNameReply, type Variant } from "./_dbus.ts";

/** The application id: the bus name, the .desktop and the D-Bus service file are named after it. */
export const APP_ID = "dev.firezone.client";
export const APP_PATH = "/dev/firezone/client";
const APP_INTERFACE = "org.freedesktop.Application";
// A browser hands over one link at a time; a caller with thousands is not a browser.
const MAX_URIS = 8;

export interface ApplicationHandlers {
  activate: () => void;
  openUri: (uri: string) => void;
}

export class FreedesktopApplication extends Interface {
  constructor(
    private readonly handlers: ApplicationHandlers,
    private readonly log: Logger,
  ) {
    super(APP_INTERFACE);
  }

  Activate(_platformData: Record<string, Variant>): void {
    this.handlers.activate();
  }

  Open(uris: string[], _platformData: Record<string, Variant>): void {
    if (uris.length > MAX_URIS) this.log.warn("ignored the links past the first few", { count: uris.length });
    for (const uri of uris.slice(0, MAX_URIS)) {
      try {
        this.handlers.openUri(uri);
      } catch (err) {
        this.log.warn("a link could not be handled", { error: (err as Error).message });
      }
    }
  }

  ActivateAction(_name: string, _parameter: Variant[], _platformData: Record<string, Variant>): void {
    this.handlers.activate();
  }
}

FreedesktopApplication.configureMembers({
  methods: {
    Activate: { inSignature: "a{sv}", outSignature: "" },
    Open: { inSignature: "asa{sv}", outSignature: "" },
    ActivateAction: { inSignature: "sava{sv}", outSignature: "" },
  },
});

/**
 * Exports the object, then claims the name: a caller queued by bus activation sees the object as
 * soon as the name is ours. Returns false when another firezone-gui of this session owns the name.
 */
export async function exportApplication(
  bus: MessageBus,
  app: FreedesktopApplication,
): Promise<{ owned: boolean; close: () => void }> {
  bus.export(APP_PATH, app);
  const reply = await bus.requestName(APP_ID, NameFlag.DO_NOT_QUEUE);
  const owned = reply === RequestNameReply.PRIMARY_OWNER || reply === RequestNameReply.ALREADY_OWNER;
  return {
    owned,
    close: () => {
      bus.unexport(APP_PATH, app);
      if (owned) void bus.releaseName(APP_ID).catch(() => {});
    },
  };
}
