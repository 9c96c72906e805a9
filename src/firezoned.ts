import { runDaemon } from "../lib/daemon/index.ts";

process.exit(await runDaemon(process.argv.slice(2), process.env));
