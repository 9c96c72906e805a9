/**
 * firezonectl: the root command and one file per subcommand. It talks to firezoned only through
 * lib/ipc and turns every error into a message that says what to do and a sysexits exit code.
 */

export { COMMANDS, type CommandEntry, jsonCommands, optionsOf, SHELLS } from "./commands.ts";
export { COMPLETION_FILES, completionScript, isShell, type Shell } from "./completion.ts";
export { buildBundle } from "./debug_bundle.ts";
export { type DoctorReport, formatDoctor, runDoctor } from "./doctor.ts";
export { EXIT, exitCodeFor, SilentExit, UsageError } from "./exit_codes.ts";
export { EXIT_CODE_TEXT, helpText } from "./help.ts";
export { formatInternetResource } from "./internet.ts";
export { type CliIo, processIo } from "./io.ts";
export { JSON_SCHEMA_VERSION, JSON_SHAPES, type JsonShape } from "./json_shapes.ts";
export { parseSince } from "./logs.ts";
export { firezonectlManPage } from "./man.ts";
export { formatResources } from "./resources.ts";
export { runCli } from "./run.ts";
export { formatSetting, formatSettings } from "./settings.ts";
export { formatStatus } from "./status.ts";
export { parseTimeout } from "./wait.ts";
export { statusLine } from "./watch.ts";
