// The local base image the Dockerfile's build stage starts from: a Debian bookworm minbase root
// filesystem made with debootstrap from the host's own Debian mirror, then `docker import`ed. No
// registry image is pulled, so `docker build` works offline. The root filesystem is cached as a tar
// in .cache/docker/ under a hash of this recipe (suite, packages, this file), like the VM image:
// editing the recipe rebuilds it; an old tar of another recipe is removed.
//
//   bun docker/base_image.ts [--docker-host unix:///path/docker.sock]   # builds the tar if needed, imports it
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { hostDebianMirror } from "../tests/vm/mirror.ts";

export const SUITE = "bookworm";
/**
 * What the images take from Debian besides minbase (which brings libc, getent, dash and bash):
 * wireguard-go and tini for the client image's build stage; nftables for the devstack gateway of
 * docker/compose.yaml. The client image copies only what it needs out of this base.
 */
export const PACKAGES = ["wireguard-go", "tini", "nftables"];
export const ROOT = resolve(import.meta.dir, "..");
export const CACHE_DIR = join(ROOT, ".cache/docker");

export function recipeHash(): string {
  const h = createHash("sha256");
  h.update(readFileSync(new URL(import.meta.url)));
  h.update(`${SUITE}\n${PACKAGES.join(",")}`);
  return h.digest("hex").slice(0, 16);
}

/** The tag the Dockerfile's BASE_IMAGE argument names by default is `firezone-base:bookworm`. */
export function baseImageTag(): string {
  return `firezone-base:${SUITE}-${recipeHash()}`;
}

function run(cmd: string[], what: string, env?: Record<string, string>): void {
  const r = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
  if (r.exitCode !== 0) {
    const out = (r.stdout.toString() + r.stderr.toString()).trim().split("\n").slice(-30).join("\n");
    throw new Error(`${what} failed (exit ${r.exitCode}): ${cmd.join(" ")}\n${out}`);
  }
}

/**
 * The path of the root filesystem tar for this recipe, built with debootstrap when it is missing
 * (a few minutes, once). Needs root and the host's apt sources.
 */
export function ensureBaseTar(log: (line: string) => void = () => {}): string {
  const hash = recipeHash();
  const tar = join(CACHE_DIR, `firezone-base-${SUITE}-${hash}.tar`);
  if (existsSync(tar)) return tar;
  mkdirSync(CACHE_DIR, { recursive: true });
  for (const f of readdirSync(CACHE_DIR)) {
    if (f.startsWith("firezone-base-") || f.startsWith("rootfs-"))
      rmSync(join(CACHE_DIR, f), { recursive: true, force: true });
  }
  const mirror = hostDebianMirror();
  if (!mirror) throw new Error("no Debian mirror in /etc/apt/sources.list or /etc/apt/sources.list.d/");
  const rootfs = join(CACHE_DIR, `rootfs-${hash}`);
  const started = performance.now();
  log(`building the Docker base image (debootstrap ${SUITE} from ${mirror.uri}); once per recipe`);
  run(
    [
      "debootstrap",
      "--variant=minbase",
      `--include=${PACKAGES.join(",")}`,
      "--components=main",
      SUITE,
      rootfs,
      mirror.uri,
    ],
    "debootstrap",
  );
  // Downloaded packages and indexes are of no use in an image that never runs apt.
  for (const d of ["var/cache/apt/archives", "var/lib/apt/lists"]) {
    const dir = join(rootfs, d);
    for (const f of existsSync(dir) ? readdirSync(dir) : []) {
      if (f !== "partial" && f !== "lock") rmSync(join(dir, f), { recursive: true, force: true });
    }
  }
  const tmp = `${tar}.tmp`;
  run(["tar", "--numeric-owner", "--xattrs", "-C", rootfs, "-cf", tmp, "."], "tar");
  renameSync(tmp, tar);
  rmSync(rootfs, { recursive: true, force: true });
  const mb = Math.round(statSync(tar).size / 1e6);
  log(`base tar ready: ${tar} (${mb} MB) in ${Math.round((performance.now() - started) / 1000)} s`);
  return tar;
}

/**
 * Imports the base image into the Docker engine at `dockerHost` unless it is there already, tagged
 * both with its recipe hash and as `firezone-base:bookworm` (the Dockerfile's default BASE_IMAGE).
 */
export function ensureBaseImage(
  docker: string,
  dockerHost: string,
  log: (line: string) => void = () => {},
): string {
  const tag = baseImageTag();
  const env = { DOCKER_HOST: dockerHost };
  const has = Bun.spawnSync([docker, "image", "inspect", tag], { stdout: "ignore", stderr: "ignore", env });
  if (has.exitCode !== 0) {
    const tar = ensureBaseTar(log);
    run([docker, "import", tar, tag], "docker import", env);
  }
  run([docker, "tag", tag, `firezone-base:${SUITE}`], "docker tag", env);
  return tag;
}

if (import.meta.main) {
  const i = process.argv.indexOf("--docker-host");
  const host = i > 0 ? process.argv[i + 1] : (process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock");
  if (!host) {
    console.error("usage: bun docker/base_image.ts [--docker-host unix:///path/docker.sock]");
    process.exit(64);
  }
  const docker = Bun.which("docker");
  if (!docker) {
    console.error("base_image: no docker command in PATH; install docker.io");
    process.exit(69);
  }
  console.log(ensureBaseImage(docker, host, (l) => console.log(`base_image: ${l}`)));
}
