// The kernel backend: the wireguard module, configured over generic netlink. The link itself is
// created with rtnetlink (kind "wireguard") by the Tunnel; this class only speaks WG_CMD_*.
import { GenericNetlink, type GenlFamily } from "../netlink/index.ts";
import { decodeGetDevice, encodeGetDevice, encodeSetDevice, WG_GENL_NAME } from "./genl_codec.ts";
import type { WgBackend, WgDevice } from "./model.ts";

export class KernelBackend implements WgBackend {
  readonly kind = "kernel";
  readonly name: string;
  readonly index: number;
  readonly #genl: GenericNetlink;
  readonly #family: GenlFamily;

  private constructor(name: string, index: number, genl: GenericNetlink, family: GenlFamily) {
    this.name = name;
    this.index = index;
    this.#genl = genl;
    this.#family = family;
  }

  /** Opens generic netlink and resolves the wireguard family for the link `name`. */
  static async open(name: string, index: number): Promise<KernelBackend> {
    const genl = new GenericNetlink();
    try {
      return new KernelBackend(name, index, genl, genl.family(WG_GENL_NAME));
    } catch (e) {
      genl.close();
      throw e;
    }
  }

  async setDevice(change: WgDevice): Promise<void> {
    const conn = this.#genl.conn;
    const seq = conn.nextSeq();
    const messages = encodeSetDevice(change, {
      familyId: this.#family.id,
      ifname: this.name,
      seq,
      portId: conn.socket.portId,
    });
    messages.forEach((m, i) => {
      // Every message is acked before the next goes out, as wireguard-tools does.
      if (i > 0) conn.nextSeq();
      conn.exchange(
        m,
        seq + i,
        `configure WireGuard device ${this.name} (message ${i + 1}/${messages.length})`,
      );
    });
  }

  async getDevice(): Promise<WgDevice> {
    const conn = this.#genl.conn;
    const seq = conn.nextSeq();
    const request = encodeGetDevice({
      familyId: this.#family.id,
      ifname: this.name,
      seq,
      portId: conn.socket.portId,
    });
    return {
      ...decodeGetDevice(conn.exchange(request, seq, `read WireGuard device ${this.name}`)),
      name: this.name,
    };
  }

  /** Closes the netlink socket; the Tunnel deletes the link. */
  async stop(): Promise<void> {
    this.#genl.close();
  }
}
