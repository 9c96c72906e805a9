// firezone-gui's main: arguments, the refusal to run as root, the single-instance socket, and the
// life of the App until Quit or a signal.
import { VERSION } from "../types/index.ts";
import { createLogger } from "../util/index.ts";
import type { App } from "./app.ts";
import { claimInstance, ensurePrivateDir, sendToInstance } from "./instance.ts";
import { loadSettings } from "./settings.ts";

const HELP = `firezone-gui ${VERSION}: the Firezone tray icon for the desktop user.

Usage:
  firezone-gui                       start the tray (one per user; a second start exits 0)
  firezone-gui open-deep-link URL    hand a sign-in deep link to the running firezone-gui
  firezone-gui --help | --version

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
  if (command !== undefined && command !== "open-deep-link") {
    process.stderr.write(`firezone-gui: unknown argument '${command}'. See firezone-gui --help.\n`);
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
  const log = createLogger({
    name: "firezone-gui",
    level: settings.logLevel,
    journald: Boolean(env.JOURNAL_STREAM),
  });
  for (const w of loaded.warnings) log.warn(w);

  if (command === "open-deep-link") {
    if (rest.length !== 1) {
      process.stderr.write("firezone-gui: usage: firezone-gui open-deep-link URL\n");
      return EX_USAGE;
    }
    const reply = await sendToInstance(settings.guiSocket, { type: "deep-link", url: rest[0]! });
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
  const [{ App: AppClass }, { closeBus, connectSessionBus }, { keyringTokenStore }] = await Promise.all([
    import("./app.ts"),
    import("./session_bus.ts"),
    import("./token_store.ts"),
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
  log.info("ready", { ms: Math.round(performance.now() - startedAt), version: VERSION });
  process.once("SIGTERM", () => quit(0));
  process.once("SIGINT", () => quit(0));
  const code = await done;
  app.stop();
  instance.stop();
  closeBus(bus);
  log.info("stopped");
  return code;
}
