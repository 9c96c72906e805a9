import * as v from "valibot";

/** The parameters of a method that takes none: any key is refused. */
export const Empty = v.strictObject({});
