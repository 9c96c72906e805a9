// The TUN interface the tunnel sends packets into. This process opens it and keeps its fd for the
// whole session, so the interface, its addresses and its routes outlive a crashed packet engine.
import { Rtnetlink } from "../netlink/index.ts";
import { closeFd, openTun } from "../sys/index.ts";

export const DEFAULT_TUN_NAME = "tun-firezone";
export const DEFAULT_MTU = 1280;

export interface TunOpenOptions {
  /** Interface name, 1-15 bytes; default `tun-firezone`. */
  name?: string;
  /** rtnetlink connection to reuse; one is opened (and closed with the device) otherwise. */
  rtnl?: Rtnetlink;
  /** Path of the clone device, for tests. */
  devicePath?: string;
  /**
   * Keep the 4-byte packet-information header (no IFF_NO_PI). wireguard-go (Debian's 0.0.20220316)
   * always expects it on an fd passed through WG_TUN_FD; it is off for everyone else.
   */
  packetInfo?: boolean;
}

/** An open TUN interface: `fd` carries its packets, `index` names it in rtnetlink. */
export class TunDevice {
  readonly fd: number;
  readonly name: string;
  readonly index: number;
  readonly #rtnl: Rtnetlink;
  readonly #ownsRtnl: boolean;
  #closed = false;

  private constructor(fd: number, name: string, index: number, rtnl: Rtnetlink, ownsRtnl: boolean) {
    this.fd = fd;
    this.name = name;
    this.index = index;
    this.#rtnl = rtnl;
    this.#ownsRtnl = ownsRtnl;
  }

  /** Creates the interface (IFF_TUN, IFF_NO_PI unless `packetInfo`, close-on-exec fd); it starts down. */
  static open(options: TunOpenOptions = {}): TunDevice {
    const rtnl = options.rtnl ?? new Rtnetlink();
    const handle = openTun(options.name ?? DEFAULT_TUN_NAME, options.devicePath, !!options.packetInfo);
    try {
      const link = rtnl.link(handle.name);
      if (!link) throw new Error(`TUN interface ${handle.name} vanished right after it was created`);
      return new TunDevice(handle.fd, handle.name, link.index, rtnl, !options.rtnl);
    } catch (e) {
      closeFd(handle.fd);
      if (!options.rtnl) rtnl.close();
      throw e;
    }
  }

  setMtu(mtu: number): void {
    this.#rtnl.setLink(this.index, { mtu });
  }

  setUp(up: boolean): void {
    this.#rtnl.setLink(this.index, { up });
  }

  /** Closes the fd; once no other process holds one, the kernel removes the interface. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeFd(this.fd);
    if (this.#ownsRtnl) this.#rtnl.close();
  }
}
