// The daemon's log files use the rotating file the GUI's log shares (lib/util/log_file.ts).
export { LOG_KEEP, LOG_MAX_BYTES, LogFile } from "../util/index.ts";
