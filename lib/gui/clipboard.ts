// Copies text with whichever clipboard tool the session has: wl-copy on Wayland, xclip or xsel on X11.
// There is no clipboard without a display (a headless test has none); the caller then says so.
import type { Logger } from "../util/index.ts";

export type CopyResult = { ok: true; tool: string } | { ok: false; reason: string };

interface Tool {
  argv: string[];
  needs: "WAYLAND_DISPLAY" | "DISPLAY";
}

const TOOLS: Tool[] = [
  { argv: ["wl-copy"], needs: "WAYLAND_DISPLAY" },
  { argv: ["xclip", "-selection", "clipboard", "-in"], needs: "DISPLAY" },
  { argv: ["xsel", "--clipboard", "--input"], needs: "DISPLAY" },
];

/** Copies `text`; resolves with the tool used or with a reason a person can act on. */
export async function copyToClipboard(
  text: string,
  env: Record<string, string | undefined>,
  log?: Logger,
): Promise<CopyResult> {
  if (!env.WAYLAND_DISPLAY && !env.DISPLAY)
    return { ok: false, reason: "there is no display, so no clipboard" };
  let missing = true;
  for (const tool of TOOLS) {
    if (!env[tool.needs]) continue;
    const path = Bun.which(tool.argv[0]!, { PATH: env.PATH ?? "/usr/bin:/bin" });
    if (!path) continue;
    missing = false;
    try {
      const proc = Bun.spawn([path, ...tool.argv.slice(1)], {
        stdin: "pipe",
        stdout: "ignore",
        stderr: "pipe",
        env,
      });
      proc.stdin.write(text);
      await proc.stdin.end();
      // xclip and wl-copy fork a child that serves the selection; the parent exits at once.
      const code = await Promise.race([proc.exited, Bun.sleep(3000).then(() => -1)]);
      if (code === 0) return { ok: true, tool: tool.argv[0]! };
      log?.warn("clipboard tool failed", { tool: tool.argv[0], code });
    } catch (err) {
      log?.warn("clipboard tool failed", { tool: tool.argv[0], error: err });
    }
  }
  return {
    ok: false,
    reason: missing
      ? "no clipboard tool found: install wl-clipboard (Wayland) or xclip (X11)"
      : "the clipboard tool failed",
  };
}
