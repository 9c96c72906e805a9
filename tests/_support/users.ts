// Real users and groups made with useradd/groupadd for a test, and removed afterwards.
import { capture } from "../../devstack/shared/capture.ts";

function run(cmd: string[]): void {
  const r = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")} failed: ${r.stderr.toString()}`);
}

export function uniqueName(prefix: string): string {
  return `${prefix}${Math.random().toString(36).slice(2, 8)}`;
}

export class TestAccounts {
  private users: string[] = [];
  private groups: string[] = [];

  group(name = uniqueName("fzg")): string {
    run(["groupadd", "--system", name]);
    this.groups.push(name);
    return name;
  }

  user(name = uniqueName("fzu"), groups: string[] = []): string {
    run([
      "useradd",
      "--no-create-home",
      "--shell",
      "/usr/sbin/nologin",
      ...(groups.length ? ["-G", groups.join(",")] : []),
      name,
    ]);
    this.users.push(name);
    return name;
  }

  cleanup(): void {
    for (const u of this.users.splice(0)) Bun.spawnSync(["userdel", u], { stderr: "ignore" });
    for (const g of this.groups.splice(0)) Bun.spawnSync(["groupdel", g], { stderr: "ignore" });
  }
}

/** Runs a command as `user` with a clean environment plus `env`. */
export async function runAs(
  user: string,
  cmd: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const envArgs = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  const r = await capture([
    "runuser",
    "-u",
    user,
    "--",
    "env",
    "-i",
    "PATH=/usr/bin:/bin",
    ...envArgs,
    ...cmd,
  ]);
  return { code: r.code, stdout: r.out, stderr: r.err };
}
