// Runs a command to completion and keeps what it printed, for the devstack's helpers and tests.

export interface Captured {
  code: number;
  out: string;
  err: string;
}

/** Runs `cmd`; `env` replaces the environment when given, `stdin` is fed to the command. */
export async function capture(
  cmd: string[],
  options: { env?: Record<string, string | undefined>; stdin?: string } = {},
): Promise<Captured> {
  const p = Bun.spawn(cmd, {
    env: options.env,
    stdin: options.stdin === undefined ? "ignore" : new TextEncoder().encode(options.stdin),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([
    new Response(p.stdout).text(),
    new Response(p.stderr).text(),
    p.exited,
  ]);
  return { code, out, err };
}
