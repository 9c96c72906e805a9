import { run } from "../lib/gui/index.ts";

// No top-level await, so the entry can be compiled to bytecode for a faster start.
run(process.argv.slice(2)).then((code) => process.exit(code));
