// A shell of a real user that stays up between commands, so a test can change the group database
// after the user's "login" (the shell's start) and see what processes of that session may do.
import type { Subprocess } from "bun";

export class UserShell {
  private buffer = "";
  private constructor(private readonly proc: Subprocess<"pipe", "pipe", "pipe">) {
    void (async () => {
      for await (const chunk of proc.stdout) this.buffer += new TextDecoder().decode(chunk);
    })();
  }

  /** Starts `sh` as `user` through runuser (which sets the groups the group database lists now). */
  static async start(user: string, env: Record<string, string> = {}): Promise<UserShell> {
    const envArgs = Object.entries(env).map(([k, v]) => `${k}=${v}`);
    const proc = Bun.spawn(
      [
        "runuser",
        "-u",
        user,
        "--",
        "env",
        "-i",
        "PATH=/usr/bin:/bin:/usr/sbin:/sbin",
        ...envArgs,
        "sh",
        "-c",
        'echo __ready; while IFS= read -r line; do eval "$line"; done',
      ],
      { stdin: "pipe", stdout: "pipe", stderr: "pipe" },
    );
    const shell = new UserShell(proc);
    await shell.waitFor(/__ready\n/);
    return shell;
  }

  /** Runs one command line in the shell; returns its exit code and what it printed (stderr too). */
  async run(command: string): Promise<{ code: number; out: string }> {
    this.buffer = "";
    this.proc.stdin.write(`${command} 2>&1; echo "__rc=$?"\n`);
    this.proc.stdin.flush();
    const m = await this.waitFor(/__rc=(\d+)\n/);
    const out = this.buffer.slice(0, m.index);
    return { code: Number(m[1]), out };
  }

  private async waitFor(re: RegExp, timeoutMs = 60_000): Promise<RegExpExecArray> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const m = re.exec(this.buffer);
      if (m) return m;
      if (Date.now() > until || this.proc.exitCode !== null)
        throw new Error(`user shell: no ${re} in ${JSON.stringify(this.buffer)}`);
      await Bun.sleep(20);
    }
  }

  close(): void {
    this.proc.kill("SIGKILL");
  }
}
