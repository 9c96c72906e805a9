// The tray's "Export Logs": runs `firezonectl debug bundle` (one implementation of the bundle for
// the CLI and the tray) and says where the file went. The command line holds only a path we made.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";

export type ExportResult = { ok: true; path: string } | { ok: false; reason: string };

/** firezonectl beside this program (an install or dist/), else the one on PATH. */
export function findFirezonectl(env: Record<string, string | undefined>): string | null {
  const beside = join(dirname(process.execPath), "firezonectl");
  if (existsSync(beside)) return beside;
  for (const dir of (env.PATH ?? "/usr/local/bin:/usr/bin:/bin").split(":")) {
    if (dir.startsWith("/") && existsSync(join(dir, "firezonectl"))) return join(dir, "firezonectl");
  }
  return null;
}

/** Where the bundle goes: the user's home (or XDG_DOWNLOAD_DIR when it is set), with the time in the name. */
export function exportPath(env: Record<string, string | undefined>, now = new Date()): string | null {
  const dir = env.XDG_DOWNLOAD_DIR?.startsWith("/")
    ? env.XDG_DOWNLOAD_DIR
    : env.HOME?.startsWith("/")
      ? env.HOME
      : null;
  if (!dir) return null;
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  return join(dir, `firezone-logs-${stamp}.tar.gz`);
}

export async function exportLogs(
  env: Record<string, string | undefined>,
  daemonSocket: string,
): Promise<ExportResult> {
  const ctl = findFirezonectl(env);
  if (!ctl) return { ok: false, reason: "firezonectl was not found beside firezone-gui or on PATH" };
  const path = exportPath(env);
  if (!path) return { ok: false, reason: "there is no home directory to save the file in" };
  const proc = Bun.spawn([ctl, "--socket", daemonSocket, "debug", "bundle", "--output", path], {
    env,
    stdin: "ignore",
    stdout: "ignore",
    stderr: "pipe",
  });
  const timer = setTimeout(() => proc.kill("SIGKILL"), 90_000);
  const [code, err] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
  clearTimeout(timer);
  if (code !== 0)
    return { ok: false, reason: err.trim().split("\n")[0] || `firezonectl exited with ${code}` };
  return { ok: true, path };
}
