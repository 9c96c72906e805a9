import { runDaemon } from "../lib/daemon/index.ts";

// No top-level await, so the entry can be compiled to bytecode for a faster start.
runDaemon(process.argv.slice(2), process.env).then((code) => process.exit(code));
