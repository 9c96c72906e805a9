/**
 * The TUN interface of the tunnel: created through /dev/net/tun with a close-on-exec fd that this
 * process keeps, named `tun-firezone` unless told otherwise, with MTU 1280 by default.
 */
export { DEFAULT_MTU, DEFAULT_TUN_NAME, TunDevice, type TunOpenOptions } from "./tun_device.ts";
