// Two network namespaces for DNS tests: "client" runs the stub (a child process, as firezoned would)
// and dig; "upstream" runs a real dnsmasq holding the names the upstream knows. Joined by a veth:
// client 10.53.0.1 and 10.53.0.3 (a second source address), upstream 10.53.0.2; fd53::1 / fd53::2.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { capture } from "../../devstack/shared/capture.ts";
import { startDnsmasq } from "../_support/dnsmasq.ts";

export const CLIENT_IP = "10.53.0.1";
export const CLIENT_IP2 = "10.53.0.3";
export const UPSTREAM_IP = "10.53.0.2";
export const CLIENT_IP6 = "fd53::1";
export const UPSTREAM_IP6 = "fd53::2";
const BUN = process.execPath;

export function has(cmd: string): boolean {
  return Bun.spawnSync(["sh", "-c", `command -v ${cmd}`]).exitCode === 0;
}
export const canRun = process.getuid?.() === 0 && has("ip") && has("dnsmasq") && has("dig");

function sh(cmd: string[]): string {
  const r = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")} failed (${r.exitCode}): ${r.stderr.toString()}`);
  return r.stdout.toString();
}

export class StubProcess {
  readonly lines: string[] = [];
  #waiters: Array<() => void> = [];
  constructor(readonly proc: Subprocess<"pipe", "pipe", "inherit">) {
    void (async () => {
      let rest = "";
      for await (const chunk of proc.stdout) {
        rest += new TextDecoder().decode(chunk);
        const parts = rest.split("\n");
        rest = parts.pop()!;
        this.lines.push(...parts);
        for (const w of this.#waiters.splice(0)) w();
      }
    })();
  }
  async waitFor(prefix: string, timeoutMs = 10_000): Promise<string> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const i = this.lines.findIndex((l) => l.startsWith(prefix));
      if (i >= 0) return this.lines.splice(i, 1)[0]!.slice(prefix.length).trim();
      if (Date.now() > until)
        throw new Error(`stub did not print "${prefix}" (got: ${this.lines.join(" | ")})`);
      await new Promise<void>((r) => {
        this.#waiters.push(r);
        setTimeout(r, 100);
      });
    }
  }
  /** The hook call for `name`, waiting for its line to arrive. */
  async hookFor(
    name: string,
  ): Promise<{ name: string; resourceId: string; v4: number[]; v6: number[]; at: number } | undefined> {
    for (let i = 0; i < 50; i++) {
      const found = this.hooks().find((h) => h.name === name);
      if (found) return found;
      await Bun.sleep(20);
    }
    return undefined;
  }
  hooks(): Array<{ name: string; resourceId: string; v4: number[]; v6: number[]; at: number }> {
    return this.lines.filter((l) => l.startsWith("hook ")).map((l) => JSON.parse(l.slice(5)));
  }
  async stats(): Promise<{ queries: number; dropped: Record<string, number>; [k: string]: unknown }> {
    this.proc.stdin.write("stats\n");
    this.proc.stdin.flush();
    return JSON.parse(await this.waitFor("stats "));
  }
  async stop() {
    this.proc.stdin.write("quit\n");
    this.proc.stdin.flush();
    const t = setTimeout(() => this.proc.kill("SIGKILL"), 3000);
    await this.proc.exited;
    clearTimeout(t);
  }
}

export class DnsLab {
  readonly id = Math.random().toString(36).slice(2, 7);
  readonly client = `fzdc-${this.id}`;
  readonly upstream = `fzdu-${this.id}`;
  readonly tmp = mkdtempSync(join(tmpdir(), "fz-dns-"));
  readonly #procs: Subprocess[] = [];

  setUp(): this {
    sh(["ip", "netns", "add", this.client]);
    sh(["ip", "netns", "add", this.upstream]);
    const vc = `vdc-${this.id}`;
    const vu = `vdu-${this.id}`;
    sh([
      "ip",
      "link",
      "add",
      vc,
      "netns",
      this.client,
      "type",
      "veth",
      "peer",
      "name",
      vu,
      "netns",
      this.upstream,
    ]);
    for (const [ns, dev, addrs] of [
      [this.client, vc, [`${CLIENT_IP}/24`, `${CLIENT_IP2}/24`]],
      [this.upstream, vu, [`${UPSTREAM_IP}/24`]],
    ] as const) {
      sh(["ip", "-n", ns, "link", "set", "lo", "up"]);
      for (const a of addrs) sh(["ip", "-n", ns, "addr", "add", a, "dev", dev]);
      sh([
        "ip",
        "-n",
        ns,
        "addr",
        "add",
        ns === this.client ? `${CLIENT_IP6}/64` : `${UPSTREAM_IP6}/64`,
        "dev",
        dev,
        "nodad",
      ]);
      sh(["ip", "-n", ns, "link", "set", dev, "up"]);
    }
    return this;
  }

  /** dnsmasq as the upstream: authoritative for upstream.example, nothing else, no cache. */
  async startDnsmasq(extra: string[] = []): Promise<void> {
    const dnsmasq = await startDnsmasq({
      ns: this.upstream,
      listen: [UPSTREAM_IP, UPSTREAM_IP6],
      dir: this.tmp,
      lines: [
        "local=/upstream.example/",
        "address=/web.upstream.example/192.0.2.80",
        "address=/web.upstream.example/2001:db8::80",
        // An answer of ~800 bytes: too big for 512 bytes without EDNS, so TC and a TCP retry.
        `txt-record=big.upstream.example,${Array.from({ length: 4 }, (_, i) => `${i}${"x".repeat(200)}`).join(",")}`,
        // A name inside the resource zone that the upstream also knows: the stub must not ask it.
        "address=/app.corp.example/198.51.100.1",
        ...extra,
      ],
    });
    this.#procs.push(dnsmasq.proc);
  }

  async startStub(config: Record<string, unknown>): Promise<StubProcess> {
    const proc = Bun.spawn(
      [
        "ip",
        "netns",
        "exec",
        this.client,
        BUN,
        resolve(import.meta.dir, "fixtures/stub_host.ts"),
        JSON.stringify(config),
      ],
      { stdin: "pipe", stdout: "pipe", stderr: "inherit" },
    );
    this.#procs.push(proc);
    const stub = new StubProcess(proc);
    await stub.waitFor("ready");
    return stub;
  }

  /** dig inside the client namespace. */
  dig(args: string[]): { code: number; out: string } {
    const r = Bun.spawnSync(["ip", "netns", "exec", this.client, "dig", ...args], {
      stdout: "pipe",
      stderr: "pipe",
    });
    return { code: r.exitCode ?? -1, out: r.stdout.toString() + r.stderr.toString() };
  }

  /** dig without blocking the event loop (for concurrent checks). */
  async digAsync(args: string[]): Promise<{ code: number; out: string }> {
    const { code, out, err } = await capture(["ip", "netns", "exec", this.client, "dig", ...args]);
    return { code, out: out + err };
  }

  async attack(args: string[]): Promise<string> {
    const p = Bun.spawn(
      ["ip", "netns", "exec", this.client, BUN, resolve(import.meta.dir, "fixtures/attacker.ts"), ...args],
      { stdout: "pipe", stderr: "inherit" },
    );
    const out = await new Response(p.stdout).text();
    await p.exited;
    return out.trim();
  }

  tearDown(): void {
    for (const p of this.#procs) p.kill("SIGKILL");
    Bun.spawnSync(["ip", "netns", "del", this.client]);
    Bun.spawnSync(["ip", "netns", "del", this.upstream]);
    rmSync(this.tmp, { recursive: true, force: true });
  }
}
