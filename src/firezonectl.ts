import { runCli } from "../lib/cli/index.ts";

process.exit(await runCli(process.argv.slice(2)));
