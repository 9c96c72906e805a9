// The checks of `firezonectl doctor` that belong to the caller, not the daemon: the unit, the socket,
// this session's groups against the group database, and the tray's prerequisites on this user's
// session bus. Lookups go through helper programs with a deadline (doctor_exec.ts).
import type { Check } from "../ipc/index.ts";
import { displayText } from "../util/index.ts";
import { execBounded } from "./doctor_exec.ts";

export const DEEP_LINK_SCHEME = "firezone-fd0020211111";
export const DESKTOP_FILE = "dev.firezone.client.desktop";
const show = (s: string) => displayText(s, 300);

/** Who the caller is, as the kernel and the group database see it. */
export interface Caller {
  uid: number;
  user: string | null;
  /** The groups this process holds (its session's, fixed at login). */
  sessionGids: number[];
}

export function currentCaller(user: string | null): Caller {
  const gids = new Set(process.getgroups?.() ?? []);
  const egid = process.getegid?.();
  if (egid !== undefined) gids.add(egid);
  return { uid: process.getuid?.() ?? -1, user, sessionGids: [...gids] };
}

/** `getent passwd UID` -> the user name; null when the database does not answer in time. */
export async function userName(uid: number): Promise<string | null> {
  const r = await execBounded(["getent", "passwd", String(uid)]);
  const name = r.code === 0 ? r.out.split(":")[0] : undefined;
  return name && /^[a-z_][a-z0-9_.-]*\$?$/i.test(name) ? name : null;
}

async function groupOf(gid: number): Promise<string | null> {
  const r = await execBounded(["getent", "group", String(gid)]);
  const name = r.code === 0 ? r.out.split(":")[0] : undefined;
  return name && /^[a-z_][a-z0-9_.-]*\$?$/i.test(name) ? name : null;
}

interface Stat {
  uid: number;
  gid: number;
  mode: number;
  isSocket: boolean;
}

function statOf(path: string): Stat | { error: string } {
  const { statSync } = require("node:fs") as typeof import("node:fs");
  try {
    const s = statSync(path);
    return { uid: s.uid, gid: s.gid, mode: s.mode & 0o7777, isSocket: s.isSocket() };
  } catch (err) {
    return { error: (err as { code?: string }).code ?? (err as Error).message };
  }
}

/** The group that guards the socket: the socket's own, else its directory's (which a non-member can still stat). */
export async function socketGroup(socketPath: string): Promise<{ gid: number; name: string | null } | null> {
  for (const p of [socketPath, socketPath.slice(0, socketPath.lastIndexOf("/")) || "/"]) {
    const s = statOf(p);
    if (!("error" in s) && s.gid !== 0) return { gid: s.gid, name: await groupOf(s.gid) };
  }
  return null;
}

export async function checkUnit(): Promise<Check> {
  const title = "firezoned service (systemd)";
  const { existsSync } = require("node:fs") as typeof import("node:fs");
  if (!existsSync("/run/systemd/system"))
    return { id: "unit", title, status: "skip", detail: "systemd is not running here (a container?)" };
  const r = await execBounded([
    "systemctl",
    "show",
    "firezoned.service",
    "--property=LoadState,ActiveState,SubState",
  ]);
  if (r.code !== 0)
    return { id: "unit", title, status: "skip", detail: `systemctl did not answer: ${show(r.err)}` };
  const prop = (k: string) => new RegExp(`^${k}=(.*)$`, "m").exec(r.out)?.[1] ?? "";
  const load = prop("LoadState");
  const active = prop("ActiveState");
  if (load === "not-found")
    return {
      id: "unit",
      title,
      status: "fail",
      detail: "firezoned.service is not installed",
      fix: "sudo sh install.sh --api-url wss://portal.example.com",
    };
  if (active === "active")
    return { id: "unit", title, status: "pass", detail: `active (${prop("SubState")})` };
  return {
    id: "unit",
    title,
    status: "fail",
    detail: `firezoned.service is ${active || "unknown"}${active === "failed" ? " (journalctl -u firezoned -n 50 says why)" : ""}`,
    fix: active === "failed" ? "sudo systemctl restart firezoned" : "sudo systemctl enable --now firezoned",
  };
}

export async function checkSocket(socketPath: string): Promise<Check> {
  const title = `Socket ${socketPath}`;
  const s = statOf(socketPath);
  if ("error" in s) {
    if (s.error === "EACCES")
      return {
        id: "socket",
        title,
        status: "skip",
        detail: "its directory is closed to this user; see the group check",
      };
    return {
      id: "socket",
      title,
      status: "fail",
      detail: `there is no socket (${s.error}): firezoned is not running`,
      fix: "sudo systemctl start firezoned",
    };
  }
  if (!s.isSocket)
    return {
      id: "socket",
      title,
      status: "fail",
      detail: "the path exists but is not a socket",
      fix: "sudo systemctl restart firezoned",
    };
  if (s.uid !== 0)
    return {
      id: "socket",
      title,
      status: "fail",
      detail: `owned by uid ${s.uid}, not root: it is not firezoned's`,
      fix: `sudo rm ${socketPath} && sudo systemctl restart firezoned`,
    };
  if ((s.mode & 0o007) !== 0)
    return {
      id: "socket",
      title,
      status: "fail",
      detail: `mode ${s.mode.toString(8)} lets every user in`,
      fix: "sudo systemctl restart firezoned",
    };
  return {
    id: "socket",
    title,
    status: "pass",
    detail: `root:${s.gid} mode ${s.mode.toString(8).padStart(4, "0")}`,
  };
}

/**
 * In the group database but not in this session -> log in again (or newgrp); not in the database ->
 * usermod. Root needs neither.
 */
export async function checkGroup(socketPath: string, caller: Caller): Promise<Check> {
  const title = "Your access to firezoned";
  if (caller.uid === 0)
    return { id: "group", title, status: "pass", detail: "root may always use firezoned" };
  const group = await socketGroup(socketPath);
  if (!group)
    return { id: "group", title, status: "skip", detail: "cannot tell which group guards the socket" };
  const gname = group.name ?? String(group.gid);
  if (caller.sessionGids.includes(group.gid))
    return { id: "group", title, status: "pass", detail: `this session is in group '${gname}'` };
  const user = caller.user;
  if (!user)
    return {
      id: "group",
      title,
      status: "fail",
      detail: `this session is not in group '${gname}' (the user database did not answer in time)`,
      fix: `sudo usermod -aG ${gname} $USER   # then log out and in again`,
    };
  const ids = await execBounded(["id", "-G", user]);
  if (ids.code === null)
    return {
      id: "group",
      title,
      status: "fail",
      detail: `this session is not in group '${gname}'; the group database did not answer within 3 s`,
      fix: `sudo usermod -aG ${gname} ${user}   # then log out and in again`,
    };
  const listed = ids.out.trim().split(/\s+/).map(Number).includes(group.gid);
  if (listed)
    return {
      id: "group",
      title,
      status: "fail",
      detail: `${user} was added to group '${gname}' after this session started, so this session does not hold it yet`,
      fix: `newgrp ${gname}   # for this shell; or log out and in again`,
    };
  return {
    id: "group",
    title,
    status: "fail",
    detail: `${user} is not in group '${gname}', whose members may use firezoned`,
    fix: `sudo usermod -aG ${gname} ${user}   # then log out and in again`,
  };
}

async function nameOnBus(env: Record<string, string | undefined>, name: string): Promise<boolean | null> {
  const call = (method: string, arg: string[]) =>
    execBounded(
      [
        "dbus-send",
        "--session",
        "--print-reply=literal",
        "--reply-timeout=2000",
        "--dest=org.freedesktop.DBus",
        "/org/freedesktop/DBus",
        `org.freedesktop.DBus.${method}`,
        ...arg,
      ],
      { env: { DBUS_SESSION_BUS_ADDRESS: env.DBUS_SESSION_BUS_ADDRESS } },
    );
  const owner = await call("NameHasOwner", [`string:${name}`]);
  if (owner.code !== 0) return null;
  if (/true/.test(owner.out)) return true;
  const activatable = await call("ListActivatableNames", []);
  return activatable.code === 0 && activatable.out.split(/\s+/).includes(name);
}

/** Where the XDG base directories put the handler's desktop file, if anywhere. */
function desktopFileIn(env: Record<string, string | undefined>): string | null {
  const { existsSync } = require("node:fs") as typeof import("node:fs");
  const home = env.XDG_DATA_HOME?.startsWith("/")
    ? env.XDG_DATA_HOME
    : env.HOME
      ? `${env.HOME}/.local/share`
      : null;
  const dirs = [home, ...(env.XDG_DATA_DIRS || "/usr/local/share:/usr/share").split(":")];
  for (const dir of dirs) {
    if (!dir?.startsWith("/")) continue;
    const path = `${dir}/applications/${DESKTOP_FILE}`;
    if (existsSync(path)) return path;
  }
  return null;
}

/** The tray's needs on this user's session bus; skipped for root and outside a desktop session. */
/** A check of one name on the session bus: `found` is null when the bus did not answer at all. */
function busCheck(
  id: string,
  title: string,
  found: boolean | null,
  passDetail: string,
  failure: { detail: string; fix: string },
): Check {
  if (found === null) return { id, title, status: "skip", detail: "the session bus did not answer" };
  return found
    ? { id, title, status: "pass", detail: passDetail }
    : { id, title, status: "fail", ...failure };
}

export async function checkDesktop(
  env: Record<string, string | undefined>,
  caller: Caller,
): Promise<Check[]> {
  const ids = [
    ["tray_watcher", "System tray (StatusNotifierWatcher)"],
    ["secret_service", "Keyring (Secret Service)"],
    ["deep_link", "Sign-in link handler (xdg)"],
  ] as const;
  const skipAll = (why: string): Check[] =>
    ids.map(([id, title]) => ({ id, title, status: "skip", detail: why }));
  if (caller.uid === 0) return skipAll("run doctor as the desktop user to check the tray's needs");
  if (!env.DBUS_SESSION_BUS_ADDRESS)
    return skipAll("no desktop session (DBUS_SESSION_BUS_ADDRESS is not set)");
  const [watcher, secrets, mime] = await Promise.all([
    nameOnBus(env, "org.kde.StatusNotifierWatcher"),
    nameOnBus(env, "org.freedesktop.secrets"),
    execBounded(["xdg-mime", "query", "default", `x-scheme-handler/${DEEP_LINK_SCHEME}`], {
      env: {
        HOME: env.HOME,
        XDG_CONFIG_HOME: env.XDG_CONFIG_HOME,
        XDG_DATA_HOME: env.XDG_DATA_HOME,
        XDG_DATA_DIRS: env.XDG_DATA_DIRS,
        XDG_CURRENT_DESKTOP: env.XDG_CURRENT_DESKTOP,
        DBUS_SESSION_BUS_ADDRESS: env.DBUS_SESSION_BUS_ADDRESS,
      },
    }),
  ]);
  const checks: Check[] = [];
  const [[wid, wtitle], [sid, stitle], [did, dtitle]] = ids;
  checks.push(
    busCheck(wid, wtitle, watcher, "a tray host is on the session bus", {
      detail: "no tray host (StatusNotifierWatcher) on the session bus: the icon cannot show",
      fix: "sudo apt install gnome-shell-extension-appindicator && gnome-extensions enable ubuntu-appindicators@ubuntu.com   # GNOME; other desktops: add a status-notifier tray to the panel",
    }),
    busCheck(sid, stitle, secrets, "org.freedesktop.secrets is available", {
      detail: "no Secret Service on the session bus: the tray cannot keep the sign-in token",
      fix: "sudo apt install gnome-keyring   # then log out and in again",
    }),
  );
  const handler = mime.out.trim();
  const installed = desktopFileIn(env);
  let linkCheck: Check;
  if (handler === DESKTOP_FILE)
    linkCheck = {
      id: did,
      title: dtitle,
      status: "pass",
      detail: `${DESKTOP_FILE} handles ${DEEP_LINK_SCHEME}:// links`,
    };
  else if (!installed)
    linkCheck = {
      id: did,
      title: dtitle,
      status: "fail",
      detail: `${DESKTOP_FILE} is not installed in any applications directory, so nothing can take sign-in links back to firezone-gui`,
      fix: "sudo sh install.sh --from-dir DIR   # installs the desktop files; then sign in again",
    };
  else
    linkCheck = {
      id: did,
      title: dtitle,
      status: "fail",
      detail: handler
        ? `${DEEP_LINK_SCHEME}:// links open ${show(handler)}, not firezone-gui`
        : `${installed} is installed but not the handler of ${DEEP_LINK_SCHEME}:// links: browser sign-in cannot come back`,
      fix: `xdg-mime default ${DESKTOP_FILE} x-scheme-handler/${DEEP_LINK_SCHEME}`,
    };
  checks.push(linkCheck);
  return checks;
}
