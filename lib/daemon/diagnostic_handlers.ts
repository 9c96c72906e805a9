// The IPC handlers of the diagnostic methods (diagnose, logs, debug_info); all read-only.

import { type Handlers, LOG_PAGE_BYTES, MAX_LOG_PAGE_LINES } from "../ipc/index.ts";
import { FzError } from "../types/index.ts";
import { debugInfo } from "./debug_info.ts";
import { type DiagnosticsSource, runDiagnostics } from "./diagnostics.ts";
import type { LogRing } from "./log_ring.ts";

export interface DiagnosticsDeps {
  source: DiagnosticsSource;
  ring: LogRing;
}

type DiagnosticHandlers = Pick<Handlers, "diagnose" | "logs" | "debug_info">;

function unavailable(): never {
  throw new FzError("internal", "this firezoned was started without diagnostics");
}

/** Only one `diagnose` runs at a time; callers that ask meanwhile share its answer. */
export function diagnosticHandlers(deps: DiagnosticsDeps | null): DiagnosticHandlers {
  let running: ReturnType<typeof runDiagnostics> | null = null;
  return {
    diagnose: async () => {
      if (!deps) unavailable();
      running ??= runDiagnostics(deps.source).finally(() => {
        running = null;
      });
      return { checks: await running };
    },
    logs: async (params) => {
      if (!deps) unavailable();
      const limit = params.limit ?? MAX_LOG_PAGE_LINES;
      if (params.after !== undefined && params.waitMs) await deps.ring.waitFor(params.after, params.waitMs);
      return deps.ring.read({
        after: params.after,
        sinceMs: params.sinceMs,
        limit,
        maxBytes: LOG_PAGE_BYTES,
      });
    },
    debug_info: () => {
      if (!deps) unavailable();
      return { sections: debugInfo(deps.source) };
    },
  };
}
