// A user's name and groups from NSS (files, LDAP, SSSD, systemd-userdb), resolved in a child process
// (`getent`), never on the caller's event loop: an NSS lookup can block for as long as a directory
// server takes to answer, and a child that hangs can be killed, a blocked thread cannot.

/** A user as the group database describes it now (not as any process of theirs was started). */
export interface Account {
  name: string;
  uid: number;
  /** Primary group from passwd. */
  gid: number;
  /** Primary plus every supplementary group NSS lists for the user (what initgroups would set). */
  groups: number[];
}

export type AccountLookup = (uid: number) => Promise<Account | null>;

export interface AccountLookupOptions {
  /** Longest a lookup may take before its child is killed and the lookup fails. Default 5000 ms. */
  timeoutMs?: number;
  /** The getent program; tests point it elsewhere. */
  getent?: string;
}

// What NSS backends use for names: POSIX portable names plus '@' (SSSD/LDAP "user@domain") and a
// trailing '$' (Samba machine accounts). Anything else is refused rather than passed on.
export const ACCOUNT_NAME = /^[A-Za-z0-9_.][A-Za-z0-9_.@-]{0,255}\$?$/;
const ID = /^\d{1,10}$/;

/** Thrown when NSS did not answer in time or answered with something unreadable. */
export class AccountLookupError extends Error {
  override name = "AccountLookupError";
}

async function getent(
  program: string,
  args: string[],
  timeoutMs: number,
): Promise<{ code: number; out: string }> {
  const proc = Bun.spawn([program, ...args], {
    // A clean environment: nothing of the daemon's (tokens, settings) reaches the child.
    env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LC_ALL: "C" },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "ignore",
  });
  const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
  try {
    const [out, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
    if (proc.signalCode === "SIGKILL")
      throw new AccountLookupError(`getent ${args[0]} took longer than ${timeoutMs} ms`);
    // Bounded before parsing: one passwd line and one list of group ids.
    return { code, out: out.slice(0, 1 << 20) };
  } finally {
    clearTimeout(timer);
  }
}

/** Looks a uid up through NSS in a child process; null when NSS knows no such user. */
export function accountLookup(options: AccountLookupOptions = {}): AccountLookup {
  const program = options.getent ?? "getent";
  const timeoutMs = options.timeoutMs ?? 5000;
  return async (uid) => {
    const pw = await getent(program, ["passwd", String(uid)], timeoutMs);
    // getent exits 2 for "no such key".
    if (pw.code === 2) return null;
    const fields = pw.out.split("\n")[0]?.split(":") ?? [];
    const [name, , uidText, gidText] = fields;
    if (
      pw.code !== 0 ||
      !name ||
      !ACCOUNT_NAME.test(name) ||
      uidText !== String(uid) ||
      !ID.test(gidText ?? "")
    )
      throw new AccountLookupError(`unreadable passwd entry for uid ${uid}`);
    const gid = Number(gidText);
    const ig = await getent(program, ["initgroups", name], timeoutMs);
    if (ig.code !== 0) throw new AccountLookupError(`no group list for user ${name} (exit ${ig.code})`);
    // "name  gid gid ...": the name, then the supplementary groups.
    const ids = ig.out.trim().split(/\s+/).slice(1);
    if (!ids.every((id) => ID.test(id))) throw new AccountLookupError(`unreadable group list for ${name}`);
    return { name, uid, gid, groups: [gid, ...ids.map(Number).filter((g) => g !== gid)] };
  };
}
