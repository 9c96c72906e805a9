// `dns_control = resolv-conf`: /etc/resolv.conf is replaced (atomically, by rename) with one that
// names the stub, and put back exactly as it was, byte for byte or as the same symlink, on stop or
// by the next start after a crash. The state lives in <stateDir>/dns/ in files a shell can use, so
// `install.sh --uninstall` restores it with the procedure in docs/dns.md:
//   resolv.conf.ours    what we wrote; its presence means "ours is (or may be) in place"
//   resolv.conf.backup  the original regular file, same bytes and mode
//   resolv.conf.link    the original symlink's target, when it was a symlink
import { constants, existsSync, type Stats } from "node:fs";
import {
  type FileHandle,
  lstat,
  mkdir,
  open,
  readFile,
  readlink,
  rename,
  rm,
  symlink,
} from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { formatIp, type Logger, parseIp, silentLogger } from "../util/index.ts";
import type { Upstream } from "./forwarder.ts";

export const RESOLV_CONF = "/etc/resolv.conf";

export interface ResolvConfOptions {
  /** The file to manage; /etc/resolv.conf unless a test says otherwise. */
  path?: string;
  /** The daemon's state directory (/var/lib/firezoned); backups go to <stateDir>/dns/. */
  stateDir: string;
  logger?: Logger;
}

export interface SystemDnsConfig {
  /** The stub's addresses, written as nameservers in this order. */
  servers: readonly string[];
  /** Search domains from the portal, tried before the system's own. */
  searchDomains: readonly string[];
}

/** Where the state of one managed file lives. */
export function resolvConfStateFiles(stateDir: string) {
  const dir = join(stateDir, "dns");
  return {
    dir,
    ours: join(dir, "resolv.conf.ours"),
    backup: join(dir, "resolv.conf.backup"),
    link: join(dir, "resolv.conf.link"),
  };
}

/**
 * What reassert found: our file still in place; someone else's adopted as the new original; a file
 * someone else's left alone because `mayAdopt` said no; a file replaced behind the sandbox's bind
 * mount that cannot be followed (see replaceFile); or nothing applied yet.
 */
export type ReassertOutcome = "intact" | "adopted" | "left" | "stale" | "not-applied";

export class ResolvConfControl {
  readonly path: string;
  readonly #files: ReturnType<typeof resolvConfStateFiles>;
  readonly #log: Logger;
  #original: Upstream[] = [];

  constructor(options: ResolvConfOptions) {
    this.path = options.path ?? RESOLV_CONF;
    this.#files = resolvConfStateFiles(options.stateDir);
    this.#log = options.logger ?? silentLogger;
  }

  /** The nameservers of the original file, as upstreams for the stub (our own addresses left out). */
  get originalUpstreams(): Upstream[] {
    return this.#original;
  }

  /**
   * Puts the stub in charge. Restores a predecessor's leftovers first, so what gets backed up is
   * always the system's own file. Safe to call again with new servers or search domains.
   */
  async apply(config: SystemDnsConfig): Promise<void> {
    const first = !existsSync(this.#files.ours);
    if (first) {
      await this.recover();
      await mkdir(this.#files.dir, { recursive: true, mode: 0o700 });
      await this.#backUp(await lstat(this.path).catch(() => null));
    }
    const originalText = await this.#originalText();
    this.#original = nameserversOf(originalText, config.servers);
    const content = renderResolvConf(config, originalText);
    // The marker goes first: a crash between the two writes leaves a marker whose content does not
    // match the file, and recovery then leaves the file alone.
    await atomicWrite(this.#files.ours, content, 0o600);
    try {
      await replaceFile(this.path, content, 0o644);
    } catch (err) {
      // Nothing was changed: forget the backup, so no later recovery acts on it. (On a re-apply the
      // file is ours already and the backup is still needed.)
      if (first)
        for (const f of [this.#files.ours, this.#files.backup, this.#files.link])
          await rm(f, { force: true });
      throw err;
    }
    this.#log.info("DNS: /etc/resolv.conf points at the stub", {
      path: this.path,
      servers: config.servers.join(","),
    });
  }

  /**
   * After a network change, or when the file changed under us: if another program (a DHCP client,
   * NetworkManager without resolved, an administrator) has written the file since we did, what it
   * wrote is the system's configuration now. It becomes the new original (backed up, restored on
   * stop, its servers the stub's upstreams) and the stub is put back in charge. The stub itself and
   * the proxy addresses it handed out are untouched. Never called before apply.
   */
  async reassert(config: SystemDnsConfig, mayAdopt: () => boolean = () => true): Promise<ReassertOutcome> {
    const ours = await readFile(this.#files.ours).catch(() => null);
    if (!ours) return "not-applied";
    const current = await lstat(this.path).catch(() => null);
    if (current?.isFile() && current.nlink === 0) return "stale";
    if (current?.isFile() && Buffer.compare(await readFile(this.path), ours) === 0) return "intact";
    if (!mayAdopt()) return "left";
    // Theirs replaces the backup: restoring the file from before the network change would put a
    // network's servers back that this machine is no longer on.
    await this.#backUp(current);
    try {
      await this.apply(config);
    } catch (err) {
      // Renamed over on the host: the sandbox's bind mount of the old file went with it, and the
      // new one lies on the read-only /etc. Recovery later finds theirs in place and keeps it.
      if (READ_ONLY_DIR.has(errnoOf(err))) return "stale";
      throw err;
    }
    this.#log.info("DNS: another program rewrote /etc/resolv.conf; its servers are the upstreams now", {
      path: this.path,
      upstreams: this.#original.map((u) => u.address).join(",") || "(none)",
    });
    return "adopted";
  }

  /** Puts the original back if the file is still ours; forgets the backup either way. */
  async revert(): Promise<void> {
    await this.recover();
  }

  /**
   * Restores what a previous run (this one, or one that crashed) replaced. If someone else has
   * written the file since, theirs is newer than our backup and stays. Returns true if it restored.
   */
  async recover(): Promise<boolean> {
    const ours = await readFile(this.#files.ours).catch(() => null);
    if (!ours) return false;
    const current = await lstat(this.path).catch(() => null);
    let restored = false;
    // nlink 0: replaced on the host behind the sandbox's bind mount; the file in place is theirs.
    const stillOurs =
      current === null ||
      (current.isFile() && current.nlink > 0 && Buffer.compare(await readFile(this.path), ours) === 0);
    if (stillOurs) {
      const link = await readFile(this.#files.link, "utf8").catch(() => null);
      const backup = await readFile(this.#files.backup).catch(() => null);
      if (link !== null) {
        const tmp = join(dirname(this.path), `.${basename(this.path)}.firezoned.tmp`);
        try {
          await rm(tmp, { force: true });
          await symlink(link, tmp);
          await rename(tmp, this.path);
        } catch (err) {
          throw needsDirectory(this.path, `put back the symlink to ${link}`, err);
        }
        restored = true;
      } else if (backup !== null) {
        const mode = (await lstat(this.#files.backup)).mode & 0o7777;
        await replaceFile(this.path, backup, mode);
        restored = true;
      } else {
        // There was no file before us.
        await rm(this.path, { force: true }).catch((err: unknown) => {
          throw needsDirectory(this.path, "remove the file it created", err);
        });
        restored = true;
      }
      this.#log.info("DNS: restored the original /etc/resolv.conf", { path: this.path });
    } else {
      this.#log.warn("DNS: /etc/resolv.conf was changed by someone else since we wrote it; leaving theirs", {
        path: this.path,
      });
    }
    await rm(this.#files.backup, { force: true });
    await rm(this.#files.link, { force: true });
    await rm(this.#files.ours, { force: true });
    return restored;
  }

  /** Records what is at the path now as the original: a symlink's target, a file's bytes and mode, or nothing. */
  async #backUp(current: Stats | null): Promise<void> {
    if (current?.isSymbolicLink()) {
      await atomicWrite(this.#files.link, await readlink(this.path), 0o600);
      await rm(this.#files.backup, { force: true });
    } else if (current?.isFile()) {
      await atomicWrite(this.#files.backup, await readFile(this.path), current.mode & 0o7777);
      await rm(this.#files.link, { force: true });
    } else {
      await rm(this.#files.backup, { force: true });
      await rm(this.#files.link, { force: true });
    }
  }

  async #originalText(): Promise<string> {
    const link = await readFile(this.#files.link, "utf8").catch(() => null);
    if (link !== null) {
      const target = link.startsWith("/") ? link : join(dirname(this.path), link);
      return readFile(target, "utf8").catch(() => "");
    }
    return readFile(this.#files.backup, "utf8").catch(() => "");
  }
}

/** True when `path` is (or was, per the state dir) managed by us: used by status and by tests. */
export function resolvConfIsManaged(stateDir: string): boolean {
  return existsSync(resolvConfStateFiles(stateDir).ours);
}

/** Our file: the stub first, the portal's search domains before the system's, the system's options kept. */
export function renderResolvConf(config: SystemDnsConfig, originalText: string): string {
  const lines = originalText.split("\n").map((l) => l.trim());
  const systemSearch = lines
    .filter((l) => /^(search|domain)\s/.test(l))
    .flatMap((l) => l.split(/\s+/).slice(1))
    .filter((d) => /^[a-zA-Z0-9._-]{1,253}$/.test(d));
  const search = [...new Set([...config.searchDomains, ...systemSearch])].slice(0, 32);
  const options = lines.filter((l) => /^options\s/.test(l) && /^[\x20-\x7e]+$/.test(l));
  return [
    "# Written by firezoned while the tunnel is up: DNS goes through its stub resolver.",
    "# The previous file is restored on sign-out and on stop (see docs/dns.md). Do not edit.",
    ...config.servers.map((s) => `nameserver ${s}`),
    ...(search.length > 0 ? [`search ${search.join(" ")}`] : []),
    ...options,
    "",
  ].join("\n");
}

/** The nameserver lines of a resolv.conf as upstreams, leaving out `exclude` (the stub itself). */
export function nameserversOf(text: string, exclude: readonly string[] = []): Upstream[] {
  const skip = new Set(exclude.map((e) => canonical(e)));
  const out: Upstream[] = [];
  for (const line of text.split("\n")) {
    const m = /^\s*nameserver\s+(\S+)\s*$/.exec(line);
    const address = m ? canonical(m[1]!) : null;
    if (address && !skip.has(address) && !out.some((u) => u.address === address))
      out.push({ address, port: 53 });
  }
  return out;
}

function canonical(text: string): string | null {
  const ip = parseIp(text);
  return ip ? formatIp(ip.bytes) : null;
}

/** Where atomicWrite stages `path`'s new contents: beside it, so the rename stays on one file system. */
function tempBeside(path: string): string {
  return join(dirname(path), `.${basename(path)}.firezoned.tmp`);
}

/** Writes, sets the mode, flushes to disk and closes `fh`, also when a step fails. */
async function writeSynced(fh: FileHandle, data: string | Uint8Array, mode: number): Promise<void> {
  try {
    await fh.writeFile(data);
    await fh.chmod(mode);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Write to a temporary file beside the target, flushed to disk, then rename over it: readers see old
 * or new, never half, and after a power cut the backup is there before anything depends on it.
 */
async function atomicWrite(path: string, data: string | Uint8Array, mode: number): Promise<void> {
  const tmp = tempBeside(path);
  const fh = await open(tmp, "w", mode);
  await writeSynced(fh, data, mode);
  await rename(tmp, path);
  const dir = await open(dirname(path), "r");
  await dir.sync().finally(() => dir.close());
}

/** Errors that mean "this directory cannot take a new entry here", not "something is broken". */
const READ_ONLY_DIR = new Set(["EROFS", "EACCES", "EPERM", "EBUSY", "EXDEV"]);

/**
 * /etc/resolv.conf's contents replaced. Where /etc takes new entries (outside the unit, or with a
 * drop-in opening /etc) by rename, as atomicWrite. Under the unit's sandbox only the file itself is
 * writable (ReadWritePaths=/etc/resolv.conf, a bind mount of that one file, written by install.sh
 * for resolv-conf mode): then it is rewritten in place (same inode, O_TRUNC), which is safe because
 * the backup it is restored from was flushed to disk before. Readers may see an empty file for the
 * instant between truncate and write; glibc reads it again on the next lookup.
 */
async function replaceFile(path: string, data: string | Uint8Array, mode: number): Promise<void> {
  const st = await lstat(path).catch(() => null);
  // Bind-mounted into the sandbox when the unit started, then replaced on the host by another
  // program's rename: on kernels before 3.18 what we see is the old file, unlinked (later ones
  // detach the mount, and the write fails on the read-only /etc). Writing it would change nothing.
  if (st?.isFile() && st.nlink === 0)
    throw new Error(
      `${path} was replaced by another program after firezoned started, so firezoned sees only the old copy. Run: sudo systemctl restart firezoned`,
    );
  try {
    await atomicWrite(path, data, mode);
    return;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "";
    if (!READ_ONLY_DIR.has(code)) throw err;
    await rm(tempBeside(path), { force: true }).catch(() => {});
    if (!st?.isFile()) throw needsDirectory(path, st ? "replace the symlink" : "create the file", err);
  }
  // O_NOFOLLOW: a symlink swapped in since the lstat above is refused, never written through.
  const fh = await open(path, constants.O_WRONLY | constants.O_TRUNC | constants.O_NOFOLLOW).catch((err) => {
    throw needsDirectory(path, "rewrite the file", err);
  });
  await writeSynced(fh, data, mode);
}

function errnoOf(err: unknown): string {
  const e = err as { code?: string; cause?: { code?: string } };
  return e.code ?? e.cause?.code ?? "";
}

/** The error a person reads when the sandbox (or the file system) keeps us from changing the file. */
function needsDirectory(path: string, what: string, cause: unknown): Error {
  const why = (cause as Error).message ?? String(cause);
  return new Error(
    `cannot ${what} at ${path} (${why}). Under the firezoned unit, resolv-conf mode needs the drop-in install.sh or the package writes for it: run install.sh again (for the package: sudo dpkg-reconfigure firezone-client), or see "The unit's sandbox" in docs/dns.md. Or use dns_control = systemd-resolved, or off.`,
    { cause },
  );
}

/** The nameservers a resolv.conf-format file names (following a symlink), without changing anything. */
export async function systemNameservers(path = RESOLV_CONF): Promise<Upstream[]> {
  return nameserversOf(await readFile(path, "utf8").catch(() => ""));
}
