// Opens a TUN interface through /dev/net/tun. The fd is close-on-exec so it never leaks into a child
// by accident; a child that should carry it (wireguard-go) gets it through an explicit stdio slot.
import { ptr } from "bun:ffi";
import { cstr, libc } from "./_libc.ts";
import { check } from "./check.ts";

const O_RDWR = 2;
const O_CLOEXEC = 0o2000000;
const TUNSETIFF = 0x400454ca;
const IFF_TUN = 0x0001;
const IFF_NO_PI = 0x1000;
const IFNAMSIZ = 16;

/** An open TUN device: the fd that carries its packets and the name the kernel gave it. */
export interface TunHandle {
  fd: number;
  name: string;
}

/**
 * Creates (or attaches to) the layer-3 TUN interface `name`, IFF_TUN|IFF_NO_PI unless `packetInfo`
 * asks for the 4-byte packet-information header on every packet (what wireguard-go reads and writes
 * on an fd it is handed). The interface lives as long as some process holds an fd to it.
 */
export function openTun(name: string, devicePath = "/dev/net/tun", packetInfo = false): TunHandle {
  const bytes = Buffer.from(name, "utf8");
  if (bytes.length === 0 || bytes.length >= IFNAMSIZ || /[\s/]/.test(name))
    throw new Error(`invalid interface name "${name}": use 1-15 bytes without spaces or slashes`);
  const path = cstr(devicePath);
  const fd = check(`open(${devicePath})`, libc.open(ptr(path), O_RDWR | O_CLOEXEC, 0));
  try {
    // struct ifreq: char ifr_name[16]; short ifr_flags; padded to 40 bytes.
    const ifr = Buffer.alloc(40);
    bytes.copy(ifr, 0);
    ifr.writeUInt16LE(packetInfo ? IFF_TUN : IFF_TUN | IFF_NO_PI, IFNAMSIZ);
    check("ioctl(TUNSETIFF)", libc.ioctl(fd, TUNSETIFF, ptr(ifr)), name);
    const end = ifr.indexOf(0);
    return { fd, name: ifr.subarray(0, end < 0 || end > IFNAMSIZ ? IFNAMSIZ : end).toString("utf8") };
  } catch (e) {
    libc.close(fd);
    throw e;
  }
}

/** Closes a file descriptor opened through lib/sys; errors are ignored (the fd is gone either way). */
export function closeFd(fd: number): void {
  if (fd >= 0) libc.close(fd);
}
