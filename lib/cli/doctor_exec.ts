// Runs a helper program (getent, id, systemctl, dbus-send, xdg-mime) with a deadline: NSS lookups
// against LDAP/SSSD or a wedged D-Bus must make `doctor` say "did not answer", never hang it.

export interface ExecResult {
  /** Exit code, or null when the program did not finish in time or could not start. */
  code: number | null;
  out: string;
  err: string;
  timedOut: boolean;
}

const MAX_OUTPUT = 256 * 1024;

export async function execBounded(
  cmd: string[],
  opts: { timeoutMs?: number; env?: Record<string, string | undefined> } = {},
): Promise<ExecResult> {
  let proc: ReturnType<typeof Bun.spawn>;
  try {
    proc = Bun.spawn(cmd, {
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      env: { PATH: "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", LC_ALL: "C", ...opts.env },
    });
  } catch (err) {
    return { code: null, out: "", err: (err as Error).message, timedOut: false };
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    proc.kill("SIGKILL");
  }, opts.timeoutMs ?? 3000);
  const read = async (s: ReadableStream<Uint8Array> | number | undefined) => {
    if (!s || typeof s === "number") return "";
    let text = "";
    for await (const chunk of s) {
      if (text.length < MAX_OUTPUT) text += new TextDecoder().decode(chunk);
    }
    return text.slice(0, MAX_OUTPUT);
  };
  const [out, err, code] = await Promise.all([
    read(proc.stdout as ReadableStream<Uint8Array>),
    read(proc.stderr as ReadableStream<Uint8Array>),
    proc.exited,
  ]);
  clearTimeout(timer);
  return { code: timedOut ? null : code, out, err, timedOut };
}
