// Under the unit's sandbox firezoned may write only the /etc/resolv.conf it found at start (a bind
// mount of that one file). A DHCP client that renames a new file over it (dhclient does, at every
// lease renewal) takes the mount with it, and the new file lies on the read-only /etc: DNS control
// is lost until firezoned starts again. So it starts again: a clean stop, and systemd's
// Restart=always brings it back with the new file bound; the tray signs in again with the token in
// the keyring, a service token is read again. At most once per RESTART_SPACING_MS, so a program
// that keeps replacing the file cannot make the tunnel flap (docs/dns.md, "When the network changes").
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../util/index.ts";

export const RESTART_SPACING_MS = 10 * 60_000;

export interface FollowRestartOptions {
  stateDir: string;
  /** Whether systemd runs us (INVOCATION_ID is set): only then does a stop mean a restart. */
  underSystemd: boolean;
  logger: Logger;
  /** Stops the daemon cleanly (default: SIGTERM to itself, the path `systemctl stop` takes). */
  stop?: () => void;
  now?: () => number;
}

/** Returns true if it asked for the restart. Never throws. */
export function restartToFollowResolvConf(o: FollowRestartOptions): boolean {
  const now = (o.now ?? Date.now)();
  const stamp = join(o.stateDir, "dns", "restarted-for-resolv-conf");
  if (!o.underSystemd) {
    o.logger.warn("DNS: not run by systemd, so not restarting to follow the replaced resolv.conf");
    return false;
  }
  try {
    const last = Number(readFileSync(stamp, "utf8").trim());
    if (Number.isFinite(last) && now - last >= 0 && now - last < RESTART_SPACING_MS) {
      o.logger.warn("DNS: restarted for a replaced resolv.conf less than 10 minutes ago; not again so soon", {
        last: new Date(last).toISOString(),
      });
      return false;
    }
  } catch {
    // No stamp yet.
  }
  try {
    mkdirSync(join(o.stateDir, "dns"), { recursive: true, mode: 0o700 });
    writeFileSync(stamp, `${now}\n`, { mode: 0o600 });
  } catch (err) {
    o.logger.error("DNS: cannot record the restart; not restarting", { error: (err as Error).message });
    return false;
  }
  o.logger.warn("DNS: restarting so that the unit's sandbox opens the new /etc/resolv.conf");
  (o.stop ?? (() => process.kill(process.pid, "SIGTERM")))();
  return true;
}
