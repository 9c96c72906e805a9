// Paged reads of the resource list (docs/ipc.md): every page of one read comes from one version of
// the list, pages stay under the frame cap whatever the names hold, and a cursor the daemon no
// longer honours starts the read over on the current list.
import { describe, expect, test } from "bun:test";
import { ResourcePages } from "../../lib/daemon/index.ts";
import { encodeFrame, type IpcResource, MAX_FRAME_BYTES, MAX_PAGE_ITEMS } from "../../lib/ipc/index.ts";

const make = (n: number, name = (i: number) => `r${String(i).padStart(6, "0")}`): IpcResource[] =>
  Array.from({ length: n }, (_, i) => ({ id: `id${i}`, name: name(i), type: "ip", address: "10.0.0.1" }));

function readAll(pages: ResourcePages): { ids: string[]; frames: number; versions: Set<number> } {
  let page = pages.page({});
  const ids = page.resources.map((r) => r.id);
  const versions = new Set([page.version]);
  let frames = 1;
  while (page.next) {
    page = pages.page({ cursor: page.next });
    versions.add(page.version);
    ids.push(...page.resources.map((r) => r.id));
    frames++;
    expect(encodeFrame({ type: "response", id: 1, ok: true, result: page }).length).toBeLessThan(
      MAX_FRAME_BYTES,
    );
  }
  return { ids, frames, versions };
}

describe("resource pages", () => {
  test("20,000 resources come in pages of at most MAX_PAGE_ITEMS, each resource once", () => {
    const list = make(20_000);
    const { ids, frames } = readAll(new ResourcePages(() => ({ version: 1, list })));
    expect(ids).toEqual(list.map((r) => r.id));
    expect(frames).toBe(20_000 / MAX_PAGE_ITEMS);
  });

  test("names of the longest allowed length still give frames under the 1 MiB cap", () => {
    const list = make(3000, (i) => `${"é".repeat(250)}${i}`);
    const { ids, frames } = readAll(new ResourcePages(() => ({ version: 1, list })));
    expect(ids).toHaveLength(3000);
    expect(frames).toBeGreaterThan(1);
  });

  test("a read goes on in the version it started with while the list changes", () => {
    let current = { version: 1, list: make(12_000) as readonly IpcResource[] };
    const pages = new ResourcePages(() => current);
    const first = pages.page({});
    current = { version: 2, list: make(5) };
    const second = pages.page({ cursor: first.next! });
    expect(second.version).toBe(1);
    expect(second.resources[0]!.id).toBe(`id${first.resources.length}`);
  });

  test("a cursor of a version no longer kept, or a malformed one, starts over on the current list", () => {
    const current = { version: 7, list: make(10) as readonly IpcResource[] };
    const pages = new ResourcePages(() => current);
    for (const cursor of ["3:100", "garbage", "7:x", `${"9".repeat(40)}:1`]) {
      const page = pages.page({ cursor });
      expect(page.version).toBe(7);
      expect(page.resources.map((r) => r.id)).toEqual(current.list.map((r) => r.id));
      expect(page.next).toBeUndefined();
    }
  });
});
