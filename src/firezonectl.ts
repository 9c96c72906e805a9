import { runCli } from "../lib/cli/index.ts";

// No top-level await, so the entry can be compiled to bytecode for a faster start.
runCli(process.argv.slice(2)).then((code) => process.exit(code));
