// The resource list on the wire: one resource, and the pages `resources` answers with.
import * as v from "valibot";

export const ResourceSchema = v.object({
  id: v.string(),
  name: v.string(),
  type: v.picklist(["cidr", "ip", "dns", "internet"]),
  address: v.string(),
  site: v.optional(v.object({ id: v.string(), name: v.string() })),
  gatewayStatus: v.optional(v.picklist(["unknown", "connecting", "online", "offline"])),
});

/** Most resources in one page; a page also stops before its frame passes PAGE_BYTES. */
export const MAX_PAGE_ITEMS = 5000;
/** Half the 1 MiB frame cap, so a page frame never comes near it whatever the names hold. */
export const PAGE_BYTES = 512 * 1024;

/**
 * One page of the resource list, sorted by name. Every page of one read comes from the same list
 * (`version`); a `next` cursor whose list is no longer kept starts over at the first page of the
 * current list, which the caller sees as a different `version`.
 */
export const ResourcePageSchema = v.object({
  resources: v.array(ResourceSchema),
  version: v.number(),
  total: v.number(),
  next: v.optional(v.string()),
});
export type ResourcePage = v.InferOutput<typeof ResourcePageSchema>;
