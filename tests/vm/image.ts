// Builds (once per recipe) a minimal Debian bookworm disk image with systemd for the VM tests.
// The image lives in .cache/vm/ under a hash of this recipe, so editing it triggers a rebuild.
import { createHash } from "node:crypto";
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from "node:fs";
import { join } from "node:path";
import { hostDebianMirror } from "./mirror.ts";

export const SUITE = "bookworm";

/** What the tests need inside the guest besides the minbase system. */
export const PACKAGES = [
  "systemd",
  "systemd-sysv",
  "systemd-resolved",
  "udev",
  "dbus",
  "libpam-systemd",
  "iproute2",
  "nftables",
  "sudo",
  "kmod",
  "procps",
  "wireguard-tools",
  "wireguard-go",
  "curl",
  "ca-certificates",
  "busybox",
  "iputils-ping",
  // The DNS checks' resolvers (the machine's own, the gateway's): dnsmasq without its service.
  "dnsmasq-base",
  // For the Debian packages: firezone-gui depends on xdg-utils; desktop-file-utils' dpkg trigger
  // refreshes the desktop database.
  "xdg-utils",
  "desktop-file-utils",
];

// Module folders the guest needs (9p share, virtio, WireGuard, nftables, TUN); the rest of the 400 MB
// of drivers would only slow down the image build.
const MODULE_DIRS = [
  "kernel/arch",
  "kernel/crypto",
  "kernel/lib",
  "kernel/fs/9p",
  "kernel/fs/autofs",
  "kernel/fs/netfs",
  "kernel/fs/fscache",
  "kernel/net",
  "kernel/drivers/net/wireguard",
  "kernel/drivers/net/tun.ko",
  "kernel/drivers/net/dummy.ko",
  "kernel/drivers/net/veth.ko",
  "kernel/drivers/net/virtio_net.ko",
  "kernel/drivers/net/net_failover.ko",
  "kernel/drivers/virtio",
  "kernel/drivers/block/virtio_blk.ko",
  "kernel/drivers/char",
];

export interface Kernel {
  version: string;
  vmlinuz: string;
  initrd: string;
  modules: string;
}

/** The newest Debian kernel installed on the host with its initrd and modules, or null. */
export function hostKernel(): Kernel | null {
  if (!existsSync("/boot")) return null;
  const versions = readdirSync("/boot")
    .filter((f) => f.startsWith("vmlinuz-"))
    .map((f) => f.slice("vmlinuz-".length))
    .filter((v) => existsSync(`/boot/initrd.img-${v}`) && existsSync(`/lib/modules/${v}/modules.dep`))
    .sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
  const version = versions.at(-1);
  if (!version) return null;
  return {
    version,
    vmlinuz: `/boot/vmlinuz-${version}`,
    initrd: `/boot/initrd.img-${version}`,
    modules: `/lib/modules/${version}`,
  };
}

export function recipeHash(kernel: Kernel): string {
  const h = createHash("sha256");
  h.update(readFileSync(new URL(import.meta.url)));
  for (const f of ["setup-image.sh", "fz-vmtest.service"]) {
    h.update(readFileSync(join(import.meta.dir, "guest", f)));
  }
  h.update(kernel.version);
  return h.digest("hex").slice(0, 16);
}

function run(cmd: string[], what: string): void {
  const r = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) {
    const out = (r.stdout.toString() + r.stderr.toString()).trim().split("\n").slice(-30).join("\n");
    throw new Error(`${what} failed (exit ${r.exitCode}): ${cmd.join(" ")}\n${out}`);
  }
}

/**
 * Returns the path of a raw ext4 image for this recipe, building it when it is missing. Old images of
 * other recipes are removed.
 */
export function ensureImage(cacheDir: string, kernel: Kernel, log: (line: string) => void): string {
  const hash = recipeHash(kernel);
  const image = join(cacheDir, `debian-${SUITE}-${hash}.raw`);
  if (existsSync(image)) return image;
  mkdirSync(cacheDir, { recursive: true });
  for (const f of readdirSync(cacheDir)) {
    if (/^debian-.*\.raw$/.test(f) || f.startsWith("rootfs-"))
      rmSync(join(cacheDir, f), { recursive: true, force: true });
  }
  const mirror = hostDebianMirror();
  if (!mirror) throw new Error("no Debian mirror in /etc/apt/sources.list or /etc/apt/sources.list.d/");
  const root = join(cacheDir, `rootfs-${hash}`);
  const started = performance.now();
  log(`building the VM image (debootstrap ${SUITE} from ${mirror.uri}); this happens once per recipe`);
  run(
    [
      "debootstrap",
      "--variant=minbase",
      `--include=${PACKAGES.join(",")}`,
      "--components=main",
      SUITE,
      root,
      mirror.uri,
    ],
    "debootstrap",
  );
  const modDest = join(root, "lib/modules", kernel.version);
  mkdirSync(modDest, { recursive: true });
  for (const f of readdirSync(kernel.modules)) {
    if (f.startsWith("modules.")) cpSync(join(kernel.modules, f), join(modDest, f));
  }
  for (const d of MODULE_DIRS) {
    const src = join(kernel.modules, d);
    if (existsSync(src)) cpSync(src, join(modDest, d), { recursive: true });
  }
  run(["depmod", "-b", root, kernel.version], "depmod");
  cpSync(join(import.meta.dir, "guest/setup-image.sh"), join(root, "setup-image.sh"));
  cpSync(
    join(import.meta.dir, "guest/fz-vmtest.service"),
    join(root, "etc/systemd/system/fz-vmtest.service"),
  );
  run(["chroot", root, "/bin/sh", "/setup-image.sh"], "image setup");
  rmSync(join(root, "setup-image.sh"));
  const tmp = `${image}.tmp`;
  rmSync(tmp, { force: true });
  run(["mkfs.ext4", "-q", "-F", "-L", "fzroot", "-d", root, tmp, "3G"], "mkfs.ext4");
  renameSync(tmp, image);
  rmSync(root, { recursive: true, force: true });
  const mb = Math.round((statSync(image).blocks * 512) / 1e6);
  log(`image ready: ${image} (${mb} MB used) in ${Math.round((performance.now() - started) / 1000)} s`);
  return image;
}
