/**
 * firezonectl: the root command and one file per subcommand. It talks to firezoned only through
 * lib/ipc and turns every error into a message that says what to do and a sysexits exit code.
 */
export { buildBundle } from "./debug_bundle.ts";
export { type DoctorReport, formatDoctor, runDoctor } from "./doctor.ts";
export { EXIT, exitCodeFor, SilentExit, UsageError } from "./exit_codes.ts";
export { formatInternetResource } from "./internet.ts";
export { type CliIo, processIo } from "./io.ts";
export { parseSince } from "./logs.ts";
export { formatResources } from "./resources.ts";
export { runCli } from "./run.ts";
export { formatStatus } from "./status.ts";
