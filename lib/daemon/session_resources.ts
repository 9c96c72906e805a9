// The session's view of what the portal offers: the resources this client routes (or serves by
// DNS), the connection details a gateway gave for each, and the warnings about the ones it cannot
// take. It decides what is taken; the tunnel and the portal requests are the session's.
import type { IpcResource } from "../ipc/index.ts";
import {
  type ConnectionDetails,
  type PortalResource,
  type ResourceEntry,
  ROUTED_TYPES,
  type SkippedResource,
} from "../portal/index.ts";
import type { Logger } from "../util/index.ts";
import type { ResourceList } from "./resource_pages.ts";
import type { SessionChange } from "./session.ts";

/** Per init, skipped resources logged one by one before the rest are only counted. */
const MAX_LOGGED_SKIPS = 50;
const collator = new Intl.Collator("en");

export interface SessionResourcesOptions {
  logger: Logger;
  /** `dns` resources are taken (the DNS stub serves them); otherwise they are reported as not supported. */
  servesDns: boolean;
  emit: (change: SessionChange) => void;
}

export class SessionResources {
  readonly #resources = new Map<string, IpcResource>();
  /** Problems that did not stop the session, by what they are about (a resource id, "interface"). */
  readonly #warnings = new Map<string, string>();
  /** Bumped on every change to the resource list; the sorted list is built only when read. */
  #version = 0;
  #sorted: ResourceList | null = null;
  readonly #details = new Map<string, ConnectionDetails>();

  constructor(private readonly opts: SessionResourcesOptions) {}

  get size(): number {
    return this.#resources.size;
  }

  get version(): number {
    return this.#version;
  }

  has(id: string): boolean {
    return this.#resources.has(id);
  }

  values(): IterableIterator<IpcResource> {
    return this.#resources.values();
  }

  ids(): string[] {
    return [...this.#resources.keys()];
  }

  internetId(): string | undefined {
    for (const r of this.#resources.values()) if (r.type === "internet") return r.id;
    return undefined;
  }

  /** Sorted by name, built again only after a change. */
  list(): ResourceList {
    if (this.#sorted?.version !== this.#version) {
      const list = [...this.#resources.values()].sort(
        (a, b) => collator.compare(a.name, b.name) || (a.id < b.id ? -1 : 1),
      );
      this.#sorted = { version: this.#version, list };
    }
    return this.#sorted;
  }

  /** The list changed: readers get a new version. */
  changed(): void {
    this.#version++;
    this.opts.emit("resources");
  }

  details(): IterableIterator<ConnectionDetails> {
    return this.#details.values();
  }

  hasDetails(id: string): boolean {
    return this.#details.has(id);
  }

  setDetails(resourceId: string, d: ConnectionDetails): void {
    this.#details.set(resourceId, d);
  }

  /** `init` is the whole truth: forget resources, paths and warnings it does not bring again. */
  replaceAll(entries: readonly ResourceEntry[]): void {
    const previous = new Map(this.#resources);
    this.#resources.clear();
    this.#warnings.clear();
    const tally = { logged: 0 };
    for (const entry of entries) this.#apply(entry, tally, previous);
    if (tally.logged > MAX_LOGGED_SKIPS)
      this.opts.logger.warn("more resources skipped", { count: tally.logged - MAX_LOGGED_SKIPS });
    for (const id of this.#details.keys()) if (!this.#resources.has(id)) this.#details.delete(id);
  }

  /**
   * Takes one parsed resource into the list, or records why not. Returns the id to request a path
   * for, if the resource is routed. `tally` counts log lines for skips within one init.
   */
  #apply(
    entry: ResourceEntry,
    tally?: { logged: number },
    previous: Map<string, IpcResource> = this.#resources,
  ): string | undefined {
    if (!entry.ok) {
      const s = entry.skipped;
      if (s.id) this.#forget(s.id);
      this.warn(s.id ?? `skipped:${this.#warnings.size}`, skipText(s), { ...s }, tally);
      return undefined;
    }
    const r = entry.resource;
    const dnsServed = r.type === "dns" && this.opts.servesDns;
    if (!(ROUTED_TYPES as readonly string[]).includes(r.type) && !dnsServed) {
      this.#forget(r.id);
      this.warn(
        r.id,
        `Resource "${r.name}" (${r.type}) is not supported by this client yet; it is not routed.`,
        { id: r.id, type: r.type },
        tally,
      );
      return undefined;
    }
    this.#warnings.delete(r.id);
    this.#resources.set(r.id, {
      ...toIpc(r),
      gatewayStatus: previous.get(r.id)?.gatewayStatus ?? "connecting",
    });
    return r.id;
  }

  /** The portal created or changed one resource. Returns the id to request a path for, if routed. */
  update(entry: ResourceEntry): string | undefined {
    const id = this.#apply(entry);
    this.changed();
    this.opts.emit("status");
    return id;
  }

  /** The portal deleted a resource: it goes with its path and its warnings. */
  delete(id: string): void {
    this.#resources.delete(id);
    this.#details.delete(id);
    this.#warnings.delete(id);
    this.#warnings.delete(`details:${id}`);
    this.changed();
    this.opts.emit("status");
  }

  /** A gateway's answer for a resource; false (and ignored) when the resource is not in the list. */
  takeDetails(d: ConnectionDetails): boolean {
    if (!this.#resources.has(d.resource_id)) return false;
    this.#details.set(d.resource_id, d);
    this.#noteRejectedAllowedIps(d);
    this.setGatewayStatus(d.resource_id, "online");
    return true;
  }

  #forget(id: string): void {
    this.#resources.delete(id);
    this.#details.delete(id);
  }

  clear(): void {
    this.#resources.clear();
    this.#details.clear();
    this.#warnings.clear();
  }

  get warningCount(): number {
    return this.#warnings.size;
  }

  warningTexts(): string[] {
    return [...this.#warnings.values()];
  }

  warning(key: string): string | undefined {
    return this.#warnings.get(key);
  }

  /** Shown in status, not logged (the caller logged it). */
  setWarning(key: string, text: string): void {
    this.#warnings.set(key, text);
  }

  /** False when there was no such warning. */
  clearWarning(key: string): boolean {
    return this.#warnings.delete(key);
  }

  warn(key: string, text: string, fields: Record<string, unknown>, tally?: { logged: number }): void {
    this.#warnings.set(key, text);
    if (!tally || tally.logged++ < MAX_LOGGED_SKIPS) this.opts.logger.warn(text, fields);
  }

  #noteRejectedAllowedIps(d: ConnectionDetails): void {
    const key = `details:${d.resource_id}`;
    if (d.rejected_allowed_ips.length === 0) {
      this.#warnings.delete(key);
      return;
    }
    const name = this.#resources.get(d.resource_id)?.name ?? d.resource_id;
    const text =
      `Resource "${name}": ${d.rejected_allowed_ips.length} allowed IP(s) from the portal were dropped ` +
      `(${d.rejected_allowed_ips.slice(0, 3).join("; ")}); the others are routed.`;
    this.warn(key, text, { resource: d.resource_id });
    this.opts.emit("status");
  }

  setGatewayStatus(resourceId: string, status: NonNullable<IpcResource["gatewayStatus"]>): void {
    const r = this.#resources.get(resourceId);
    if (!r || r.gatewayStatus === status) return;
    this.#resources.set(resourceId, { ...r, gatewayStatus: status });
    this.changed();
  }
}

function skipText(s: SkippedResource): string {
  const what = s.name ? `"${s.name}"` : s.id ? `with id ${s.id}` : "without a usable id";
  return `Resource ${what} was skipped: ${s.reason}.`;
}

function toIpc(r: PortalResource): IpcResource {
  return {
    id: r.id,
    name: r.name,
    type: r.type,
    address: "address" in r ? r.address : "",
    site: { id: r.site.id, name: r.site.name },
  };
}
