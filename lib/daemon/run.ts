// firezoned's main: read the environment, claim the socket, serve until SIGTERM/SIGINT; SIGHUP reloads
// the configuration file and resets the session.
import { existsSync, mkdirSync, unlinkSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { groupAuthorizer } from "../ipc/index.ts";
import { groupByName, sdNotify, setDumpable } from "../sys/index.ts";
import { FzError, VERSION } from "../types/index.ts";
import { createLogger, type Logger, type LogLevel } from "../util/index.ts";
import { clientPolicy, Tunnel } from "../wireguard/index.ts";
import { createAuditSink } from "./audit.ts";
import { type DaemonConfig, DEFAULTS, loadDaemonConfig } from "./config.ts";
import { Daemon } from "./daemon.ts";
import { loadDeviceId } from "./device_id.ts";
import { restartToFollowResolvConf } from "./dns_restart.ts";
import { recoverDns } from "./dns_session.ts";
import { LogFile } from "./log_file.ts";
import { LogRing } from "./log_ring.ts";
import { type Resettable, resetSession } from "./network_reset.ts";
import { startResetTriggers, triggerSettings } from "./network_triggers.ts";
import { PortalSession } from "./portal_session.ts";
import { grantReadGroup } from "./read_group.ts";
import { ConfigControl } from "./reload.ts";
import { ScopedTunnel } from "./scoped_tunnel.ts";
import { loadServiceToken, type ServiceToken } from "./service_token.ts";
import { SettingsStore } from "./settings.ts";
import { claimSocket, prepareSocketDir, secureSocket } from "./socket_dir.ts";

export const DAEMON_HELP = `firezoned ${VERSION}: the Firezone client daemon. Owns the tunnel and serves ${"/run/firezoned/ipc.sock"}.

Usage: firezoned [--help] [--version]

Runs in the foreground as root (under systemd, Type=notify, or as a container's main process).
Settings come from /etc/firezoned/firezoned.conf (portal_url, allow_insecure_portal, ca_file,
log_level, internet_resource, allow_lan, dns_control; see firezonectl settings and
docs/configuration.md); these variables override it:
  FIREZONE_CONFIG      the configuration file (default /etc/firezoned/firezoned.conf)
  FIREZONE_API_URL     portal URL, wss://... (overrides portal_url)
  FIREZONE_ALLOW_INSECURE_PORTAL
                       1 accepts a plaintext ws:// portal URL (labs and the devstack only)
  FIREZONE_TOKEN       service-account token (or a path to a file holding it); enables service mode
  FIREZONE_TOKEN_FILE  service-token file (default /etc/firezoned/token; must be root's, mode 0600,
                       in directories only root can write)
  CREDENTIALS_DIRECTORY  set by systemd: the credential 'firezone-token' (LoadCredential=,
                       LoadCredentialEncrypted=) is used before FIREZONE_TOKEN_FILE
  FIREZONE_SOCKET      IPC socket path (default /run/firezoned/ipc.sock)
  FIREZONE_GROUP       group allowed to operate the tunnel (default firezone)
  FIREZONE_STATE_DIR   state directory (default /var/lib/firezoned)
  FIREZONE_LOG_DIR     firezoned.log and audit.log (default /var/log/firezoned)
  FIREZONE_TUN_NAME    tunnel device name (default tun-firezone)
  FIREZONE_LOG_LEVEL   debug, info, warn or error (default info)
  FIREZONE_DNS_CONTROL auto, systemd-resolved, resolv-conf or off (overrides dns_control)
  FIREZONE_NETWORK_MONITOR
                       on (default) or off: reset the session when the network changes
  FIREZONE_NETWORK_MONITOR_BUFFER
                       the network monitor socket's receive buffer in bytes (default 1 MiB)
  DBUS_SYSTEM_BUS_ADDRESS
                       the system bus (unix:path=...) where logind announces sleep and wake
  FIREZONE_DEFAULT_SCOPE user or system (overrides default_scope; default user)
  FIREZONE_READ_GROUP  the read-only group (overrides read_group; default firezone-read)


Signals: SIGTERM and SIGINT stop the daemon; SIGHUP reloads the configuration file and resets the
session on the current network.
`;

// sysexits: a configuration problem the administrator must fix.
const EX_CONFIG = 78;
const EX_USAGE = 64;
const EX_NOPERM = 77;

export async function runDaemon(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(DAEMON_HELP);
    return 0;
  }
  if (argv.includes("--version")) {
    process.stdout.write(`firezoned ${VERSION}\n`);
    return 0;
  }
  if (argv.length > 0) {
    process.stderr.write(`firezoned: unknown argument '${argv[0]}'. See firezoned --help.\n`);
    return EX_USAGE;
  }
  let config: DaemonConfig;
  try {
    config = loadDaemonConfig(env);
  } catch (err) {
    process.stderr.write(`firezoned: ${(err as Error).message}\n`);
    return EX_CONFIG;
  }
  const logFile = new LogFile(join(config.logDir, "firezoned.log"));
  // Recent lines for members (firezonectl logs, debug bundles), starting with the previous run's tail.
  const logRing = new LogRing();
  logRing.seedFromFile(join(config.logDir, "firezoned.log"));
  // Asked at each line, so a reloaded log_level applies to every logger at once.
  let logLevel = config.logLevel;
  const log = createLogger({
    name: "firezoned",
    level: () => logLevel,
    journald: Boolean(env.JOURNAL_STREAM),
    write: (line) => {
      process.stderr.write(`${line}\n`);
      logFile.write(line);
      logRing.push(line);
    },
  });
  if (process.getuid?.() !== 0) {
    log.error(
      "firezoned must run as root: it creates the tunnel device and owns its socket. Run it with sudo or systemd.",
    );
    return EX_NOPERM;
  }
  // Before any secret is read: no core dump, and no same-uid reader of our memory without
  // CAP_SYS_PTRACE. Children (wireguard-go) are their own processes and set their own.
  try {
    setDumpable(false);
  } catch (err) {
    log.warn("cannot turn core dumps off", { error: (err as Error).message });
  }
  try {
    const setLogLevel = (level: LogLevel) => {
      logLevel = level;
    };
    return await withHangup(log, (targets) =>
      serve(config, log, logFile, env, logRing, setLogLevel, targets),
    );
  } catch (err) {
    log.error(err instanceof FzError ? err.message : `failed to start: ${(err as Error).message}`);
    return err instanceof FzError && err.code === "busy" ? 1 : EX_CONFIG;
  } finally {
    logFile.close();
  }
}

/** What SIGHUP acts on, once start-up has made it. */
interface HangupTargets {
  control: ConfigControl | null;
  session: Resettable | null;
}

/**
 * SIGHUP (`systemctl reload firezoned`): the configuration file is read again
 * (docs/configuration.md) and the session starts over on the network as it is now
 * (docs/session.md). Neither throws.
 */
function onHangup(targets: HangupTargets, log: Logger): void {
  log.info("SIGHUP: reloading the configuration and resetting the session");
  if (targets.control) void targets.control.reloadConfiguration("SIGHUP");
  else log.warn("SIGHUP during start-up: the configuration just read stays in use");
  if (targets.session) resetSession(targets.session, "SIGHUP", "signal", log.child("roam"));
}

/** Runs `fn` with a SIGHUP handler whose targets start-up fills in as it makes them. */
async function withHangup(log: Logger, fn: (targets: HangupTargets) => Promise<number>): Promise<number> {
  // Installed before anything is served: a SIGHUP (systemd's reload) during start-up must not end
  // the process, which is its default action.
  const targets: HangupTargets = { control: null, session: null };
  const hangup = () => onHangup(targets, log);
  process.on("SIGHUP", hangup);
  try {
    return await fn(targets);
  } finally {
    process.off("SIGHUP", hangup);
  }
}

async function serve(
  config: DaemonConfig,
  log: Logger,
  logFile: LogFile,
  env: Record<string, string | undefined>,
  logRing: LogRing,
  setLogLevel: (level: LogLevel) => void,
  targets: HangupTargets,
): Promise<number> {
  const group = groupByName(config.group);
  if (!group) {
    throw new FzError(
      "invalid_request",
      `group '${config.group}' does not exist, so nobody could be allowed to use firezoned. ` +
        `Create it: sudo groupadd --system ${config.group} (install.sh does this), or set FIREZONE_GROUP.`,
    );
  }
  mkdirSync(config.stateDir, { recursive: true, mode: 0o700 });
  // A token that cannot be trusted is a reason to stay signed out, not to exit: the daemon still
  // serves IPC (in service mode, so members cannot sign in over the administrator's intent) and its
  // status carries the refusal with its fix, which firezonectl and the tray show.
  let token: ServiceToken | null = null;
  let tokenProblem: string | null = null;
  try {
    token = loadServiceToken(config);
  } catch (err) {
    tokenProblem =
      err instanceof FzError ? err.message : `cannot read the service token: ${(err as Error).message}`;
    log.error(tokenProblem);
  }
  let auditFile: string | null = null;
  try {
    mkdirSync(config.logDir, { recursive: true, mode: 0o750 });
    auditFile = join(config.logDir, "audit.log");
    if (!logFile.open())
      log.warn("cannot write the log file; logging to the journal only", { dir: config.logDir });
  } catch (err) {
    log.warn("cannot create the log directory; audit lines go to the journal only", {
      dir: config.logDir,
      error: err,
    });
  }

  prepareSocketDir(config.socketPath, group.gid, config.defaultSocket, group.name);
  const claimed = await claimSocket(config.socketPath);
  if (claimed === "stale")
    log.info("removed a stale socket left by a previous run", { socket: config.socketPath });

  // The read-only tier's group is optional: absent, nobody has that tier.
  const readGroup = config.readGroup === group.name ? null : groupByName(config.readGroup);
  if (!readGroup && config.readGroup !== DEFAULTS.readGroup)
    log.warn("the read-only group does not exist; nobody has the reader tier", { group: config.readGroup });

  const tunnelLog = log.child("tunnel");
  let session: PortalSession | null = null;
  const device = new Tunnel({
    name: config.tunName,
    // Marked WireGuard socket, resource routes in the client's own table: see docs/tunnel.md.
    policy: clientPolicy(config.tunName),
    logger: tunnelLog,
    onEvent: (e) => {
      if (e.type === "backend_died")
        tunnelLog.warn("wireguard-go died", { pid: e.pid, restarting: e.restarting });
      else if (e.type === "backend_restarted") tunnelLog.info("wireguard-go restarted", { pid: e.pid });
      else {
        tunnelLog.error("tunnel backend failed", { reason: e.message });
        session?.noteError(`the tunnel backend failed: ${e.message}`);
      }
    },
  });
  // The session's scope lives in nftables next to the device (lib/daemon/scoped_tunnel.ts).
  const tunnel = new ScopedTunnel(device, { logger: tunnelLog });
  for (const line of (await tunnel.cleanupStale()) as string[])
    log.info("cleaned up after a previous run", { what: line });
  // A predecessor killed while it had replaced /etc/resolv.conf: the system's file goes back first.
  await recoverDns(config.stateDir, log.child("dns")).catch((err: unknown) =>
    log.error("could not restore the resolv.conf a previous run left in place", {
      error: (err as Error).message,
    }),
  );
  if (config.configProblem)
    log.error("the configuration file is not usable", { problem: config.configProblem });
  if (!config.portal.configured) log.warn("not configured", { fix: config.portal.message });
  const settings = SettingsStore.load({
    stateDir: config.stateDir,
    defaults: config.internetResource,
    logger: log.child("settings"),
  });
  session = new PortalSession({
    internetResource: settings.internetResource(),
    portal: config.portal,
    deviceId: loadDeviceId(config.stateDir),
    deviceName: hostname(),
    version: VERSION,
    tunnel,
    logger: log.child("session"),
    dns: {
      setting: config.dnsControl,
      stateDir: config.stateDir,
      onUnfollowable: () =>
        restartToFollowResolvConf({
          stateDir: config.stateDir,
          underSystemd: Boolean(env.INVOCATION_ID),
          logger: log.child("dns"),
        }),
    },
  });
  const audit = createAuditSink(log.child("audit"), auditFile);
  const portalSession = session;
  const control = new ConfigControl({
    env,
    initial: config,
    logger: log.child("config"),
    targets: {
      setLogLevel,
      setInternetDefaults: async (defaults) => {
        settings.setDefaults(defaults);
        await portalSession.setInternetResource(settings.internetResource());
      },
      setPortal: async (portal) => {
        await portalSession.setPortal(portal);
        // A service token waits for a configured portal (below); a portal that arrives by reload gets it.
        if (portal.configured && token && portalSession.snapshot().state === "signed_out")
          portalSession
            .signIn(token.token, {})
            .catch((err: Error) => log.warn("service sign-in failed", { reason: err.message }));
      },
    },
  });
  targets.control = control;
  const daemon = new Daemon({
    socketPath: config.socketPath,
    group: { name: group.name, gid: group.gid },
    authorize: groupAuthorizer(group, {
      readGroup,
      onLookupError: (uid, error) =>
        log.warn("the group database did not answer; the caller's kernel groups stand", { uid, error }),
    }),
    session,
    settings,
    serviceMode: token !== null || tokenProblem !== null,
    config: control,
    logger: log,
    audit,
    diagnostics: (d) => ({
      source: {
        // What doctor checks is the configuration in use, not the one read at start.
        get config() {
          return control.applied;
        },
        status: () => d.status(),
        resources: () => session.resources().list,
        // The device itself: its table and backend (the scope wrapper has neither).
        tunnel: device,
      },
      ring: logRing,
    }),
    readGroup: readGroup?.name ?? null,
    scope: tunnel,
    defaultScope: config.defaultScope,
  });

  // The socket is born 0660 so no one outside the group can connect in the instant before chown.
  const oldUmask = process.umask(0o117);
  try {
    daemon.server.start();
  } finally {
    process.umask(oldUmask);
  }
  secureSocket(config.socketPath, group.gid);
  if (readGroup) await grantReadGroup(config.socketPath, readGroup.name, log);
  log.info("listening", {
    socket: config.socketPath,
    group: group.name,
    version: VERSION,
    mode: token || tokenProblem ? "service" : "interactive",
    ...(token ? { token: token.source, ...(token.path ? { path: token.path } : {}) } : {}),
  });
  // `systemctl status firezoned` shows the refusal too (its text names the file and the fix, never the token).
  const status = tokenProblem
    ? `signed out: ${tokenProblem.replaceAll("\n", " ")}`
    : `listening on ${config.socketPath}`;
  sdNotify(`READY=1\nSTATUS=${status}\nMAINPID=${process.pid}`);

  // Without a portal the session's own message says so; the token's problem is added, not swapped in.
  if (tokenProblem)
    session.noteError(
      config.portal.configured ? tokenProblem : `${config.portal.message}. Also, ${tokenProblem}`,
    );
  if (token && !config.portal.configured) {
    // A service token is never sent anywhere but a configured portal.
    log.warn("a service token is present but there is no portal URL; not signing in");
  } else if (token) {
    session
      .signIn(token.token, {})
      .catch((err: Error) => log.warn("service sign-in failed", { reason: err.message }));
  }

  // The handlers first: a signal that comes before them would end the process uncleanly.
  targets.session = session;
  const stopSignal = new Promise<string>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
  const triggers = startResetTriggers({
    session,
    tunnelName: config.tunName,
    settings: triggerSettings(env),
    logger: log.child("roam"),
  });
  const signal = await stopSignal;
  triggers.stop();
  log.info("shutting down", { signal });
  sdNotify("STOPPING=1");
  daemon.server.stop();
  logRing.wakeAll();
  audit.close();
  await session.stop();
  if (existsSync(config.socketPath)) unlinkSync(config.socketPath);
  return 0;
}
