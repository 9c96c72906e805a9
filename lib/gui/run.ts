// firezone-gui's main: arguments, the refusal to run as root, the single-instance socket, and the
// life of the App until Quit or a signal.
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { VERSION } from "../types/index.ts";
import { createLogger, guiLogPath, LogFile } from "../util/index.ts";
import type { App } from "./app.ts";
import { claimInstance, ensurePrivateDir, sendToInstance } from "./instance.ts";
import { loadSettings } from "./settings.ts";

const HELP = `firezone-gui ${VERSION}: the Firezone tray icon for the desktop user.

Usage:
  firezone-gui                       start the tray (one per user; a second start exits 0)
  firezone-gui --gapplication-service
                                     the same, as started by D-Bus activation
  firezone-gui open-deep-link < FILE hand a sign-in deep link, read from stdin, to the running
                                     firezone-gui (never on the command line: every user can read it)
  firezone-gui --help | --version

Sign-in links from the browser arrive over D-Bus (org.freedesktop.Application.Open on
dev.firezone.client), never as arguments.

It talks to firezoned (your user must be in group 'firezone'), opens the sign-in page in your
browser, keeps the sign-in token in the desktop keyring and shows notifications.

Settings: ~/.config/firezone/gui.json  {"authUrl": "https://...", "accountSlug": "..."}
Without an authUrl, the sign-in page is on the portal firezoned is configured with.
Environment (overrides the file):
  FIREZONE_AUTH_URL    portal sign-in base URL, https:// (default: firezoned's portal)
  FIREZONE_ALLOW_INSECURE_PORTAL
                       1 accepts a plaintext http:// FIREZONE_AUTH_URL (labs only)
  FIREZONE_ACCOUNT     account slug
  FIREZONE_SOCKET      firezoned's socket (default /run/firezoned/ipc.sock)
  FIREZONE_LOG_LEVEL   debug, info, warn or error (default info)
`;

// GApplication's convention for the Exec line of a D-Bus service file.
const SERVICE_FLAG = "--gapplication-service";
const MAX_LINK = 8192;

/** One line from stdin, trimmed; null when empty or longer than a link can be. */
async function readLinkFromStdin(): Promise<string | null> {
  let text = "";
  for await (const chunk of Bun.stdin.stream()) {
    text += new TextDecoder().decode(chunk, { stream: true });
    if (text.length > MAX_LINK + 2) return null;
  }
  const line = text.replace(/\r?\n$/, "");
  return line === "" || line.includes("\n") ? null : line;
}

/** The tray's log file (0600 in a 0700 directory); null for one-shot commands or when it cannot be written. */
function openGuiLog(env: Record<string, string | undefined>, tray: boolean): LogFile | null {
  const path = tray ? guiLogPath(env) : null;
  if (!path) return null;
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  } catch {
    return null;
  }
  const file = new LogFile(path);
  return file.open() ? file : null;
}

// sysexits
const EX_USAGE = 64;
const EX_UNAVAILABLE = 69;
const EX_NOPERM = 77;

export async function run(
  argv: string[],
  env: Record<string, string | undefined> = process.env,
): Promise<number> {
  const startedAt = performance.now();
  const [command, ...rest] = argv;
  if (command === "--help" || command === "-h" || command === "help") {
    process.stdout.write(HELP);
    return 0;
  }
  if (command === "--version" || command === "-V") {
    process.stdout.write(`firezone-gui ${VERSION}\n`);
    return 0;
  }
  if (command !== undefined && command !== "open-deep-link" && command !== SERVICE_FLAG) {
    process.stderr.write(
      `firezone-gui: unknown argument '${command.length > 64 ? `${command.slice(0, 64)}...` : command}'. See firezone-gui --help.\n`,
    );
    return EX_USAGE;
  }
  if (rest.length > 0) {
    // A launcher without D-Bus activation (xdg-open's generic mode) appends the link to the Exec
    // line. The link is not used from there: argv is world-readable in /proc/<pid>/cmdline.
    process.stderr.write(
      "firezone-gui: refusing a sign-in link on the command line, where every user of this machine can read it. " +
        "This desktop's launcher does not use D-Bus activation: open the link with `gio open`, or pipe it to " +
        "`firezone-gui open-deep-link`.\n",
    );
    return EX_USAGE;
  }
  if (process.getuid?.() === 0) {
    process.stderr.write(
      "firezone-gui: refusing to run as root. Start it as your desktop user; only firezoned runs as root.\n",
    );
    return EX_NOPERM;
  }
  const loaded = loadSettings(env);
  if (!loaded.ok) {
    process.stderr.write(`firezone-gui: ${loaded.error}\n`);
    return EX_UNAVAILABLE;
  }
  const { settings } = loaded;
  // Its own rotated log under $XDG_STATE_HOME, which `firezonectl debug bundle` and Export Logs collect.
  const logFile = openGuiLog(env, command === undefined || command === SERVICE_FLAG);
  const log = createLogger({
    name: "firezone-gui",
    level: settings.logLevel,
    journald: Boolean(env.JOURNAL_STREAM),
    write: (line) => {
      process.stderr.write(`${line}\n`);
      logFile?.write(line);
    },
  });
  for (const w of loaded.warnings) log.warn(w);

  if (command === "open-deep-link") {
    const url = await readLinkFromStdin();
    if (url === null) {
      process.stderr.write(
        "firezone-gui: open-deep-link reads one link (at most 8 KiB) from stdin: firezone-gui open-deep-link < FILE\n",
      );
      return EX_USAGE;
    }
    const reply = await sendToInstance(settings.guiSocket, { type: "deep-link", url });
    if (!reply) {
      process.stderr.write("firezone-gui: firezone-gui is not running. Start it, then sign in again.\n");
      return EX_UNAVAILABLE;
    }
    if (!reply.ok) process.stderr.write(`firezone-gui: ${reply.error}\n`);
    return reply.ok ? 0 : 1;
  }

  try {
    ensurePrivateDir(settings.runtimeDir);
  } catch (err) {
    log.error((err as Error).message);
    return EX_UNAVAILABLE;
  }
  let app: App | null = null;
  const instance = await claimInstance(settings.guiSocket, (m) =>
    app ? app.handleInstanceMessage(m) : { ok: false, error: "firezone-gui is still starting; try again" },
  );
  if (instance.kind === "running") {
    process.stderr.write("firezone-gui is already running for this user.\n");
    return 0;
  }

  // The tray's modules (D-Bus, the keyring's native addon) load only now: --help, --version and
  // open-deep-link stay quick.
  const [
    { App: AppClass },
    { closeBus, connectSessionBus },
    { keyringTokenStore },
    { exportApplication, FreedesktopApplication },
  ] = await Promise.all([
    import("./app.ts"),
    import("./session_bus.ts"),
    import("./token_store.ts"),
    import("./application.ts"),
  ]);
  let quit: (code: number) => void = () => {};
  const done = new Promise<number>((resolve) => {
    quit = resolve;
  });
  let bus: Awaited<ReturnType<typeof connectSessionBus>>;
  try {
    bus = await connectSessionBus(env);
  } catch (err) {
    log.error((err as Error).message);
    instance.stop();
    return EX_UNAVAILABLE;
  }
  bus.on("error", (err: Error) => {
    log.error("lost the session bus; exiting", { error: err.message });
    quit(1);
  });
  app = new AppClass({ settings, env, logger: log, bus, tokens: keyringTokenStore(), onQuit: () => quit(0) });
  try {
    await app.start();
  } catch (err) {
    log.error(`cannot show the tray icon: ${(err as Error).message}`);
    instance.stop();
    closeBus(bus);
    return 1;
  }
  const running = app;
  let application: Awaited<ReturnType<typeof exportApplication>> | null = null;
  try {
    application = await exportApplication(
      bus,
      new FreedesktopApplication(
        { activate: () => {}, openUri: (uri) => void running.handleDeepLink(uri) },
        log.child("links"),
      ),
    );
    if (!application.owned)
      log.warn(
        "another program owns dev.firezone.client on the session bus; sign-in links will not reach this one",
      );
  } catch (err) {
    log.warn("cannot take sign-in links over D-Bus", { error: (err as Error).message });
  }
  log.info("ready", { ms: Math.round(performance.now() - startedAt), version: VERSION });
  process.once("SIGTERM", () => quit(0));
  process.once("SIGINT", () => quit(0));
  const code = await done;
  application?.close();
  app.stop();
  instance.stop();
  closeBus(bus);
  log.info("stopped");
  logFile?.close();
  return code;
}
