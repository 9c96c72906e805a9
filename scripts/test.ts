// The whole test suite, as the README's test command and CI run it: lint, typecheck, shellcheck,
// build, every bun test file, then the VM tests when qemu is usable. Ends with
// "N passed, N failed, N skipped": a test that could not run is counted as skipped, never as passed.
import { existsSync, readFileSync } from "node:fs";

const BUN = process.execPath;
let passed = 0;
let failed = 0;
let skipped = 0;
const failures: string[] = [];

async function step(name: string, cmd: string[], count?: (out: string) => Counts | null): Promise<void> {
  console.log(`\n=== ${name}: ${cmd.join(" ")}`);
  const proc = Bun.spawn(cmd, {
    stdout: "pipe",
    stderr: "pipe",
    stdin: "ignore",
    env: { ...process.env, FORCE_COLOR: "0" },
  });
  let out = "";
  const pump = async (stream: ReadableStream<Uint8Array>, sink: NodeJS.WriteStream) => {
    const dec = new TextDecoder();
    for await (const chunk of stream) {
      const text = dec.decode(chunk, { stream: true });
      out += text;
      sink.write(text);
    }
  };
  await Promise.all([pump(proc.stdout, process.stdout), pump(proc.stderr, process.stderr)]);
  const code = await proc.exited;
  const counted = count?.(out) ?? null;
  if (counted) {
    passed += counted.pass;
    failed += counted.fail;
    skipped += counted.skip;
    if (counted.fail > 0 || code !== 0) failures.push(`${name} (${counted.fail} failed, exit ${code})`);
    if (counted.fail === 0 && code !== 0) failed += 1;
  } else if (code === 0) passed += 1;
  else {
    failed += 1;
    failures.push(`${name} (exit ${code})`);
  }
}

interface Counts {
  pass: number;
  fail: number;
  skip: number;
}

/** bun test's summary: " N pass", " N skip", " N todo", " N fail" on lines of their own. */
function bunCounts(out: string): Counts | null {
  const last = (word: string) => [...out.matchAll(new RegExp(`^\\s*(\\d+) ${word}$`, "gm"))].at(-1);
  const pass = last("pass");
  const fail = last("fail");
  if (!pass && !fail) return null;
  const notRun = Number(last("skip")?.[1] ?? 0) + Number(last("todo")?.[1] ?? 0);
  return { pass: Number(pass?.[1] ?? 0), fail: Number(fail?.[1] ?? 0), skip: notRun };
}

/** "N passed, N failed[, N skipped]", as tests/vm/run.ts ends. */
function plainCounts(out: string): Counts | null {
  const m = [...out.matchAll(/^(?:\w+: )?(\d+) passed, (\d+) failed(?:, (\d+) skipped)?/gm)].at(-1);
  return m ? { pass: Number(m[1]), fail: Number(m[2]), skip: Number(m[3] ?? 0) } : null;
}

const bin = (name: string) => `node_modules/.bin/${name}`;
const filter = process.argv.slice(2);

await step("lint", [bin("biome"), "check", "."]);
await step("typecheck", [bin("tsc"), "--noEmit", "-p", "."]);
const shellScripts = ["install.sh", "scripts/setup.sh", ".ci/run"].filter((f) => existsSync(f));
await step("shellcheck", ["shellcheck", ...shellScripts]);
await step("build", [BUN, "run", "build"]);
await step(
  "bun test",
  [BUN, "test", "--timeout", "120000", ...(filter.length ? filter : ["tests/"])],
  bunCounts,
);

const scripts = JSON.parse(readFileSync("package.json", "utf8")).scripts ?? {};
if (filter.length === 0 && scripts["test:vm"]) {
  await step("vm tests", [BUN, "run", "test:vm"], plainCounts);
}

console.log("");
if (failures.length) console.log(`failed steps: ${failures.join("; ")}`);
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 ? 1 : 0);
