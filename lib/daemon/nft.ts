// Loads nftables transactions with Debian's `nft`, as a child process, so the event loop never
// waits on the kernel. Each call is one `nft -f -` run: the kernel applies all of it or none.
import type { Subprocess } from "bun";
import { FzError } from "../types/index.ts";

/** One transaction: JSON commands (`nft -j -f -`), or a script of typed values (see scope_rules.ts). */
export type NftInput = { json: unknown[] } | { script: string };

/** Runs one transaction; resolves when the kernel has it, rejects with nft's own message. */
export type NftRunner = (input: NftInput) => Promise<void>;

/** Long enough for a loaded machine, short enough that a wedged nft cannot hold a sign-in. */
const NFT_TIMEOUT_MS = 10_000;
/** nft's messages are short; a runaway one is cut. */
const MAX_MESSAGE = 2000;

/** The default runner: `nft` from PATH (Debian: /usr/sbin/nft, package nftables). */
export function nftRunner(binary = "nft"): NftRunner {
  return async (input) => {
    const args = "json" in input ? [binary, "-j", "-f", "-"] : [binary, "-f", "-"];
    const text = "json" in input ? JSON.stringify({ nftables: input.json }) : input.script;
    let proc: Subprocess<"pipe", "ignore", "pipe">;
    try {
      proc = Bun.spawn(args, { stdin: "pipe", stdout: "ignore", stderr: "pipe" });
    } catch (err) {
      throw new FzError(
        "internal",
        `cannot run ${binary} (${(err as Error).message}); install nftables (apt-get install nftables) ` +
          "or set default_scope=system in /etc/firezoned/firezoned.conf",
      );
    }
    proc.stdin.write(text);
    await proc.stdin.end();
    const timer = setTimeout(() => proc.kill("SIGKILL"), NFT_TIMEOUT_MS);
    try {
      const [code, err] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
      if (code !== 0) {
        throw new FzError(
          "internal",
          `nft refused the session's rules (exit ${code}): ${err.trim().slice(0, MAX_MESSAGE) || "no message"}`,
        );
      }
    } finally {
      clearTimeout(timer);
    }
  };
}
