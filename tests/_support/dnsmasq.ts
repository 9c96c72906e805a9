// One dnsmasq for the tests: a resolver in a network namespace the test made (the machine's own
// resolver, an upstream, a gateway's), answering only from its configuration. Every test and the VM
// guest scripts (which run from the shared source tree, so this file must import nothing that needs
// a build) start, wait for and stop it the same way.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Lines, spawnInNs } from "../../devstack/shared/netns.ts";

export interface DnsmasqOptions {
  /** The network namespace it runs in. */
  ns: string;
  /** The addresses it answers on, and no others (bind-interfaces). */
  listen: string[];
  /** What it knows: `address=`, `local=`, `txt-record=`, `addn-hosts=` ... lines. */
  lines?: string[];
  /** Where its configuration file goes (the test's temp directory). */
  dir: string;
  /** Names the configuration file and the process; default `dnsmasq-<ns>`. */
  name?: string;
  /** How long it may take to bind its sockets; default 30 s (a loaded, emulated VM guest is slow). */
  timeoutMs?: number;
}

/** A running dnsmasq; the same shape as devstack's `Proc`, so `DevWorld.stop` takes it too. */
export interface Dnsmasq {
  name: string;
  proc: Bun.Subprocess;
  out: Lines;
  /** Its log: `log-facility=-` sends it here instead of the machine's syslog. */
  err: Lines;
  conf: string;
  /** SIGHUP; resolves once it has read its hosts files (`addn-hosts=`) again. */
  reload(): Promise<void>;
  /** SIGTERM, then SIGKILL after 3 s; resolves once it has exited. Does nothing if it already has. */
  stop(): Promise<void>;
}

/** The configuration: only what `lines` says, no cache, and its log on stderr. */
export function dnsmasqConf(listen: string[], lines: string[] = []): string {
  return [
    // Nothing from the machine: not its resolv.conf, not its /etc/hosts.
    "no-resolv",
    "no-hosts",
    "bind-interfaces",
    ...listen.map((a) => `listen-address=${a}`),
    // Every query reaches the configuration: a cache would hide what a test changes, and how many
    // queries arrive.
    "cache-size=0",
    "log-facility=-",
    ...lines,
    "",
  ].join("\n");
}

/** Waits until every hosts file has a "read <file>" log line at or after line `from`. */
async function hostsRead(d: Dnsmasq, files: string[], from: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  const pending = () => files.filter((f) => !d.err.all.slice(from).some((l) => l.includes(`read ${f} - `)));
  // "failed to load names from <file>": it cannot read it (it reads as user dnsmasq or nobody).
  const failed = () => d.err.all.slice(from).some((l) => files.some((f) => l.includes(`names from ${f}`)));
  while (pending().length > 0) {
    if (failed() || d.proc.exitCode !== null || d.proc.signalCode !== null || Date.now() > until)
      throw new Error(
        `${d.name} did not read ${pending().join(", ")}; last lines:\n${d.err.all.slice(-20).join("\n")}`,
      );
    await Bun.sleep(20);
  }
}

/**
 * Starts dnsmasq in `ns` and resolves once it answers: it logs "started" only after binding every
 * listen address, and reads its hosts files just after that. Throws with its last log lines when it
 * exits first (an address not yet on an interface, a port in use, a bad line) or takes longer than
 * `timeoutMs`.
 */
export async function startDnsmasq(o: DnsmasqOptions): Promise<Dnsmasq> {
  if (o.listen.length === 0) throw new Error("startDnsmasq: no listen address");
  const name = o.name ?? `dnsmasq-${o.ns}`;
  const timeoutMs = o.timeoutMs ?? 30_000;
  const hostsFiles = (o.lines ?? []).filter((l) => l.startsWith("addn-hosts=")).map((l) => l.slice(11));
  const conf = join(o.dir, `${name}.conf`);
  writeFileSync(conf, dnsmasqConf(o.listen, o.lines));
  const proc = spawnInNs(o.ns, ["dnsmasq", "--keep-in-foreground", `--conf-file=${conf}`, "--pid-file="]);
  const d: Dnsmasq = {
    name,
    proc,
    out: new Lines(proc.stdout as ReadableStream<Uint8Array>),
    err: new Lines(proc.stderr as ReadableStream<Uint8Array>),
    conf,
    reload: async () => {
      const from = d.err.all.length;
      proc.kill("SIGHUP");
      await hostsRead(d, hostsFiles, from, timeoutMs);
    },
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill("SIGTERM");
      const t = setTimeout(() => proc.kill("SIGKILL"), 3000);
      await proc.exited;
      clearTimeout(t);
    },
  };
  try {
    await d.err.next(/\bstarted, version /, timeoutMs);
    await hostsRead(d, hostsFiles, 0, timeoutMs);
  } catch (e) {
    await d.stop();
    throw new Error(`${name} in namespace ${o.ns} did not start: ${(e as Error).message}`);
  }
  return d;
}
