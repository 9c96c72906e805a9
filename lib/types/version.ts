import pkg from "../../package.json" with { type: "json" };

/** The version of all three programs; they are built and released together. */
export const VERSION: string = pkg.version;
