// Paged reads of the resource list (docs/ipc.md, "Resources"). Each read starts from the list as it
// is then (a version) and every later page of that read comes from the same list, so a reader never
// sees a resource twice or misses one while the portal keeps changing things.
import type { IpcResource, ResourcePage } from "../ipc/index.ts";
import { MAX_PAGE_ITEMS, PAGE_BYTES } from "../ipc/index.ts";

export interface ResourceList {
  version: number;
  /** Sorted by name; never mutated once handed out. */
  list: readonly IpcResource[];
}

/** How many versions are kept for readers in the middle of a read, and for how long unused. */
const KEEP_VERSIONS = 16;
const KEEP_MS = 60_000;

export class ResourcePages {
  readonly #kept = new Map<number, { list: readonly IpcResource[]; usedAt: number }>();
  /** Encoded size of each resource object, so a page's size is known without encoding it twice. */
  readonly #sizes = new WeakMap<IpcResource, number>();

  constructor(
    private readonly current: () => ResourceList,
    private readonly now: () => number = Date.now,
  ) {}

  page(params: { cursor?: string | undefined; limit?: number | undefined }): ResourcePage {
    const now = this.now();
    for (const [v, k] of this.#kept) if (now - k.usedAt > KEEP_MS) this.#kept.delete(v);
    let version: number;
    let list: readonly IpcResource[];
    let offset = 0;
    const m = params.cursor ? /^(\d{1,15}):(\d{1,9})$/.exec(params.cursor) : null;
    const kept = m ? this.#kept.get(Number(m[1])) : undefined;
    if (m && kept) {
      version = Number(m[1]);
      list = kept.list;
      offset = Math.min(Number(m[2]), list.length);
      kept.usedAt = now;
    } else {
      // No cursor, a malformed one, or a version no longer kept: the first page of the list now.
      ({ version, list } = this.current());
      this.#kept.delete(version);
      this.#kept.set(version, { list, usedAt: now });
      while (this.#kept.size > KEEP_VERSIONS) this.#kept.delete(this.#kept.keys().next().value!);
    }
    const limit = Math.min(params.limit ?? MAX_PAGE_ITEMS, MAX_PAGE_ITEMS);
    const out: IpcResource[] = [];
    let bytes = 0;
    let i = offset;
    for (; i < list.length && out.length < limit; i++) {
      const r = list[i]!;
      let size = this.#sizes.get(r);
      if (size === undefined) {
        size = Buffer.byteLength(JSON.stringify(r)) + 1;
        this.#sizes.set(r, size);
      }
      if (out.length > 0 && bytes + size > PAGE_BYTES) break;
      bytes += size;
      out.push(r);
    }
    return {
      resources: out,
      version,
      total: list.length,
      ...(i < list.length ? { next: `${version}:${i}` } : {}),
    };
  }
}
