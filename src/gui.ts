import { run } from "../lib/gui/index.ts";

process.exit(await run(process.argv.slice(2)));
