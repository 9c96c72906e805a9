// Desktop notifications through org.freedesktop.Notifications. Without a notification server the
// GUI still works; it says so once in its log.
import { displayText, type Logger } from "../util/index.ts";
import { type ClientInterface, type MessageBus, Variant } from "./_dbus.ts";

const NAME = "org.freedesktop.Notifications";
const PATH = "/org/freedesktop/Notifications";

export interface Notification {
  summary: string;
  body: string;
  /** Notifications of the same topic replace each other instead of piling up. */
  topic?: string;
  urgency?: "low" | "normal" | "critical";
}

const URGENCY = { low: 0, normal: 1, critical: 2 } as const;

export class Notifier {
  private readonly lastId = new Map<string, number>();
  private warned = false;
  private iface: ClientInterface | null = null;

  constructor(
    private readonly bus: MessageBus,
    private readonly log: Logger,
    private readonly appName = "Firezone",
  ) {}

  /**
   * Shows a notification; never throws. Resolves with the server's id, or null when none was shown.
   * Summary and body are escaped here, once for every caller: they may quote the portal.
   */
  async notify(raw: Notification): Promise<number | null> {
    // Line breaks in a body are the app's own (the About text); everything else is escaped.
    const body = raw.body
      .split("\n")
      .map((line) => displayText(line, 1024))
      .join("\n");
    const n = { ...raw, summary: displayText(raw.summary, 256), body };
    try {
      this.iface ??= (await this.bus.getProxyObject(NAME, PATH)).getInterface(NAME);
      const iface = this.iface;
      const replaces = n.topic ? (this.lastId.get(n.topic) ?? 0) : 0;
      const hints = { urgency: new Variant("y", URGENCY[n.urgency ?? "normal"]) };
      const id = (await iface.Notify!(
        this.appName,
        replaces,
        "",
        n.summary,
        n.body,
        [],
        hints,
        -1,
      )) as number;
      if (n.topic) this.lastId.set(n.topic, id);
      this.log.debug("notification shown", { summary: n.summary, id });
      return id;
    } catch (err) {
      // The server may have restarted (or be started later): look it up again next time.
      this.iface = null;
      if (!this.warned) {
        this.warned = true;
        this.log.warn(
          "no notification server answers on the session bus; notifications go to this log only",
          {
            error: (err as Error).message,
          },
        );
      }
      this.log.info("notification", { summary: n.summary, body: n.body });
      return null;
    }
  }
}
