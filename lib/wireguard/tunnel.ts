// The tunnel the daemon owns: one WireGuard interface with its addresses, peers and routes, on the
// kernel module when it exists and on wireguard-go otherwise. See docs/tunnel.md.
import { type Link, Rtnetlink, type RuleSpec } from "../netlink/index.ts";
import { AlreadyExistsError, NotFoundError, PermissionError } from "../sys/index.ts";
import { DEFAULT_MTU, DEFAULT_TUN_NAME, TunDevice } from "../tun/index.ts";
import { type Logger, parseCidr } from "../util/index.ts";
import { type FullTunnelRoutes, internetRules, internetTable } from "./full_tunnel.ts";
import { KernelBackend } from "./kernel.ts";
import type { WgBackend, WgDevice, WgPeer } from "./model.ts";
import { policyRules, type RoutingPolicy } from "./policy.ts";
import { ROUTE_PROTOCOL, type RouteChanges, reconcileRoutes } from "./routes.ts";
import { removeStale } from "./stale.ts";
import { type BackendEvent, UAPI_DIR, UserspaceBackend } from "./userspace.ts";

export type TunnelEvent = BackendEvent;

export interface TunnelOptions {
  /** Interface name; default `tun-firezone`. */
  name?: string;
  /** Default 1280. */
  mtu?: number;
  /** "auto" (default) uses the kernel module when a wireguard link can be created. */
  backend?: "auto" | "kernel" | "userspace";
  logger: Logger;
  /** wireguard-go died, was restarted, or could not be restarted. */
  onEvent?: (e: TunnelEvent) => void;
  /** Routing table for `setRoutes` when there is no `policy`; default main (254). */
  table?: number;
  /**
   * Policy routing (lib/wireguard/policy.ts): the fwmark on the WireGuard socket, the rules that
   * keep marked traffic out of the tunnel, and (mode `split`) the table the routes go into.
   */
  policy?: RoutingPolicy;
  routeProtocol?: number;
  wireguardGo?: string;
  uapiDir?: string;
  /** Restart wireguard-go when it dies; default true. */
  restart?: boolean;
  /** wireguard-go's log level; its lines go to `logger.debug`. */
  backendLogLevel?: "error" | "verbose" | "silent";
}

export interface TunnelConfig {
  privateKey: string;
  /** Interface addresses: "100.64.x.y/32", "fd00:2021:1111::x/128". */
  addresses: string[];
  listenPort?: number;
  fwmark?: number;
}

export interface PeerStats {
  publicKey: string;
  endpoint?: string;
  allowedIps: string[];
  /** Milliseconds since the last handshake, null if there was none. */
  lastHandshakeAgeMs: number | null;
  rxBytes: number;
  txBytes: number;
}

type Backend = WgBackend & { stop(): Promise<void> };

export class Tunnel {
  readonly name: string;
  readonly mtu: number;
  readonly #o: TunnelOptions;
  readonly #log: Logger;
  #rtnl: Rtnetlink | null = null;
  #tun: TunDevice | null = null;
  #backend: Backend | null = null;
  #index = 0;
  /** False when the host has IPv6 switched off (common in containers): IPv4 still works. */
  #ipv6 = true;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: TunnelOptions) {
    this.#o = options;
    this.name = options.name ?? DEFAULT_TUN_NAME;
    this.mtu = options.mtu ?? DEFAULT_MTU;
    this.#log = options.logger;
  }

  /** "kernel" or "userspace" while up, null while down. */
  get backend(): "kernel" | "userspace" | null {
    return this.#backend?.kind ?? null;
  }

  /** Interface index while up, 0 while down. */
  get index(): number {
    return this.#index;
  }

  /** Pid of wireguard-go while the userspace backend runs. */
  get backendPid(): number | null {
    return this.#backend instanceof UserspaceBackend ? this.#backend.pid : null;
  }

  get #table(): number {
    return this.#o.policy?.mode === "split" ? this.#o.policy.table : (this.#o.table ?? 254);
  }
  get #rules(): RuleSpec[] {
    return this.#o.policy ? policyRules(this.#o.policy, this.#proto) : [];
  }

  /** The routing table the routes go into. */
  get table(): number {
    return this.#table;
  }
  get #proto(): number {
    return this.#o.routeProtocol ?? ROUTE_PROTOCOL;
  }
  get #rt(): Rtnetlink {
    this.#rtnl ??= new Rtnetlink();
    return this.#rtnl;
  }

  // Calls run one at a time: a setRoutes never interleaves with a down().
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => {});
    return run;
  }

  /**
   * Removes what a crashed predecessor left: its wireguard-go, the interface, routes marked with
   * our protocol in our table, the UAPI socket. Returns a line per thing removed.
   */
  cleanupStale(): Promise<string[]> {
    return this.#serial(async () => {
      if (this.#backend) throw new Error("cleanupStale() runs before up(), not while the tunnel is up");
      const removed = await this.#sweep();
      if (removed.length) this.#log.info("removed what an earlier run left", { removed });
      return removed;
    });
  }

  // The Internet Resource's table and rules (lib/wireguard/full_tunnel.ts), for a split policy.
  get #internetTable(): number | null {
    return this.#o.policy?.mode === "split" ? internetTable(this.#o.policy) : null;
  }

  async #sweep(): Promise<string[]> {
    const internet = this.#internetTable;
    return removeStale({
      rt: this.#rt,
      name: this.name,
      table: this.#table,
      protocol: this.#proto,
      rules: [
        ...this.#rules,
        ...(this.#o.policy && internet !== null ? internetRules(this.#o.policy, this.#proto, true) : []),
      ],
      ...(internet !== null ? { extraTables: [internet] } : {}),
      uapiSocket: `${this.#o.uapiDir ?? UAPI_DIR}/${this.name}.sock`,
    });
  }

  /** Creates the interface, starts the backend, sets key, MTU and addresses, and brings it up. */
  up(config: TunnelConfig): Promise<void> {
    return this.#serial(async () => {
      if (this.#backend) throw new Error(`tunnel ${this.name} is already up`);
      try {
        const backend = await this.#startBackend();
        this.#backend = backend;
        const rt = this.#rt;
        rt.setLink(this.#index, { mtu: this.mtu });
        this.#ipv6 = true;
        for (const cidr of config.addresses) this.#addAddress(cidr);
        const dev: WgDevice = { privateKey: config.privateKey };
        if (config.listenPort !== undefined) dev.listenPort = config.listenPort;
        const fwmark = config.fwmark ?? this.#o.policy?.fwmark;
        if (fwmark !== undefined) dev.fwmark = fwmark;
        await backend.setDevice(dev);
        rt.setLink(this.#index, { up: true });
        this.#addRules();
        this.#log.info("tunnel up", { name: this.name, backend: backend.kind, addresses: config.addresses });
      } catch (e) {
        await this.#teardown();
        throw e;
      }
    });
  }

  // The rules go in once the socket is marked: from then on WireGuard's own UDP skips the table.
  #addRules(): void {
    for (const rule of this.#rules) this.#addRule(rule);
  }

  #addRule(rule: RuleSpec): void {
    try {
      this.#rt.addRule(rule);
    } catch (e) {
      // The same rule (ours: same priority, table, mark and owner) is already in force.
      if (e instanceof AlreadyExistsError) return;
      // A kernel built or booted without IPv6 has no IPv6 rules; IPv4 still works.
      if (rule.family === 6 && !this.#ipv6) {
        this.#log.warn("IPv6 policy rule not added", { error: (e as Error).message });
        return;
      }
      throw e;
    }
  }

  #addAddress(cidr: string): void {
    try {
      this.#rt.addAddress(this.#index, cidr, { replace: true });
    } catch (e) {
      // As root, EACCES on an IPv6 address means IPv6 is disabled (net.ipv6.conf.*.disable_ipv6).
      if (!(e instanceof PermissionError) || parseCidr(cidr).family !== 6) throw e;
      this.#ipv6 = false;
      this.#log.warn("IPv6 is disabled on this host; IPv6 addresses and routes are skipped", {
        address: cidr,
      });
    }
  }

  async #startBackend(): Promise<Backend> {
    const existing = this.#rt.link(this.name);
    if (existing)
      throw new AlreadyExistsError(
        "create interface",
        17,
        `${this.name} (a ${existing.kind ?? "plain"} device) exists already: cleanupStale() removes one left by an earlier run`,
      );
    const choice = this.#o.backend ?? "auto";
    if (choice !== "userspace") {
      let created = false;
      try {
        this.#rt.createLink(this.name, "wireguard");
        created = true;
        this.#index = this.#link().index;
        return await KernelBackend.open(this.name, this.#index);
      } catch (e) {
        const made = created ? this.#rt.link(this.name) : null;
        if (made) this.#rt.deleteLink(made.index);
        this.#index = 0;
        if (choice === "kernel") throw e;
        this.#log.info("kernel WireGuard unavailable, using wireguard-go", { reason: (e as Error).message });
      }
    }
    // wireguard-go reads a packet-information header on an fd it is handed; see lib/tun.
    this.#tun = TunDevice.open({ name: this.name, rtnl: this.#rt, packetInfo: true });
    this.#index = this.#tun.index;
    const backend = new UserspaceBackend({
      name: this.name,
      tunFd: this.#tun.fd,
      logger: this.#log,
      binary: this.#o.wireguardGo,
      uapiDir: this.#o.uapiDir,
      restart: this.#o.restart,
      logLevel: this.#o.backendLogLevel,
      onEvent: (e) => this.#o.onEvent?.(e),
      // wireguard-go sets its own MTU (1420) on start; put ours back.
      onRestarted: () => this.#rt.setLink(this.#index, { mtu: this.mtu }),
    });
    await backend.start();
    return backend;
  }

  #link(): Link {
    const link = this.#rt.link(this.name);
    if (!link) throw new Error(`interface ${this.name} is gone`);
    return link;
  }

  /** Sets peers; with `replace`, peers not listed are removed. */
  setPeers(peers: WgPeer[], options: { replace?: boolean } = {}): Promise<void> {
    return this.#serial(async () => {
      await this.#up().setDevice({ replacePeers: !!options.replace, peers });
    });
  }

  /** Applies a raw device change (keys, port, peers with their flags). */
  configure(change: WgDevice): Promise<void> {
    return this.#serial(() => this.#up().setDevice(change));
  }

  /** The device as the backend reports it. */
  device(): Promise<WgDevice> {
    return this.#serial(() => this.#up().getDevice());
  }

  /** Makes the routes through the tunnel exactly `cidrs`: adds the missing, removes the extra ones it owns. */
  setRoutes(cidrs: string[]): Promise<RouteChanges> {
    return this.#serial(async () => {
      this.#up();
      const owner = { oif: this.#index, table: this.#table, protocol: this.#proto };
      return reconcileRoutes(this.#rt, owner, cidrs, this.#log, { ipv6: this.#ipv6 });
    });
  }

  /**
   * The Internet Resource (docs/internet-resource.md): with `routes`, makes its table hold exactly
   * those routes through the tunnel and puts its rule (and, with allowLan, the LAN rule) in force;
   * with null, removes both rules and every route of that table.
   */
  setFullTunnel(config: FullTunnelRoutes | null): Promise<RouteChanges> {
    return this.#serial(async () => {
      this.#up();
      const policy = this.#o.policy;
      const table = this.#internetTable;
      if (!policy || table === null)
        throw new Error("the Internet Resource needs a tunnel with a split policy");
      const owner = { oif: this.#index, table, protocol: this.#proto };
      const want = config ? internetRules(policy, this.#proto, config.allowLan) : [];
      const key = (r: { family: number; priority: number }) => `${r.family}/${r.priority}`;
      // Rules off before the routes go, on after they are in: no moment sends traffic to a half table.
      for (const rule of internetRules(policy, this.#proto, true)) {
        if (want.some((w) => key(w) === key(rule))) continue;
        try {
          this.#rt.deleteRule(rule);
        } catch (e) {
          if (!(e instanceof NotFoundError)) throw e;
        }
      }
      const changes = reconcileRoutes(this.#rt, owner, config?.routes ?? [], this.#log, { ipv6: this.#ipv6 });
      for (const rule of want) this.#addRule(rule);
      return changes;
    });
  }

  /** Per peer: handshake age and byte counters. */
  stats(): Promise<PeerStats[]> {
    return this.#serial(async () => {
      const dev = await this.#up().getDevice();
      const now = Date.now();
      return (dev.peers ?? []).map((p) => {
        const s: PeerStats = {
          publicKey: p.publicKey,
          allowedIps: p.allowedIps ?? [],
          lastHandshakeAgeMs: p.lastHandshakeMs ? Math.max(0, now - p.lastHandshakeMs) : null,
          rxBytes: p.rxBytes ?? 0,
          txBytes: p.txBytes ?? 0,
        };
        if (p.endpoint) s.endpoint = p.endpoint;
        return s;
      });
    });
  }

  /** Stops the backend and removes the interface and every route the tunnel added. */
  down(): Promise<void> {
    return this.#serial(() => this.#teardown());
  }

  async #teardown(): Promise<void> {
    const backend = this.#backend;
    this.#backend = null;
    await backend?.stop();
    this.#tun?.close();
    this.#tun = null;
    this.#index = 0;
    await this.#sweep();
    this.#rtnl?.close();
    this.#rtnl = null;
    if (backend) this.#log.info("tunnel down", { name: this.name });
  }

  #up(): Backend {
    if (!this.#backend) throw new Error(`tunnel ${this.name} is down; call up() first`);
    return this.#backend;
  }
}
