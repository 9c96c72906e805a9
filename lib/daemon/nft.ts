// Loads nftables transactions with Debian's `nft`, as a child process, so the event loop never
// waits on the kernel. Each call is one nft run, one transaction: the kernel applies all or none.
// The transaction travels as nft's one argument, not on stdin: `nft -f -` opens /dev/stdin, which
// fails (ENXIO) when stdin is a socket, as Bun's pipes are. It holds uids, an interface name and a
// cgroup path, nothing secret, so its appearing in the process list does no harm.
import type { Subprocess } from "bun";
import { FzError } from "../types/index.ts";

/** One transaction: JSON commands (`nft -j`), or a script of typed values (see scope_rules.ts). */
export type NftInput = { json: unknown[] } | { script: string };

/** Runs one transaction; resolves when the kernel has it, rejects with nft's own message. */
export type NftRunner = (input: NftInput) => Promise<void>;

/** Long enough for a loaded machine, short enough that a wedged nft cannot hold a sign-in. */
const NFT_TIMEOUT_MS = 10_000;
/** nft's messages are short; a runaway one is cut. */
const MAX_MESSAGE = 2000;

/**
 * The default runner: `nft` from PATH (Debian: /usr/sbin/nft, package nftables). `command` may
 * prefix it (tests: `ip netns exec NS nft`).
 */
export function nftRunner(command: readonly string[] = ["nft"]): NftRunner {
  const binary = command.at(-1) ?? "nft";
  return async (input) => {
    const args =
      "json" in input
        ? [...command, "-j", JSON.stringify({ nftables: input.json })]
        : [...command, input.script];
    let proc: Subprocess<"ignore", "ignore", "pipe">;
    try {
      proc = Bun.spawn(args, { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
    } catch (err) {
      throw new FzError(
        "internal",
        `cannot run ${binary} (${(err as Error).message}); install nftables (apt-get install nftables) ` +
          "or set default_scope=system in /etc/firezoned/firezoned.conf",
      );
    }
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
