// The stub's own addresses on the tunnel device: it listens there, so it exists exactly while the
// tunnel does, and the system's resolver is pointed at them.
import { Rtnetlink } from "../netlink/index.ts";

/** Where the stub listens: on the tunnel device, so it exists exactly while the tunnel does. */
export const DNS_SENTINELS = ["100.100.111.1", "fd00:2021:1111:8000:100:100:111:1"] as const;

/** The interface index of a link by name (the tunnel device), or throws if there is none. */
export function linkIndex(name: string): number {
  const rt = new Rtnetlink();
  try {
    const link = rt.link(name);
    if (!link) throw new Error(`the tunnel device ${name} does not exist`);
    return link.index;
  } finally {
    rt.close();
  }
}

export function addSentinels(ifindex: number): void {
  const rt = new Rtnetlink();
  try {
    rt.addAddress(ifindex, `${DNS_SENTINELS[0]}/32`, { replace: true });
    // Never the source of the client's own IPv6 packets: gateways accept only its tunnel address.
    rt.addAddress(ifindex, `${DNS_SENTINELS[1]}/128`, { replace: true, noDad: true, notSource: true });
  } finally {
    rt.close();
  }
}

/** Removes both; a device that is gone already took its addresses with it. */
export function removeSentinels(ifindex: number): void {
  const rt = new Rtnetlink();
  try {
    for (const [ip, prefix] of [
      [DNS_SENTINELS[0], 32],
      [DNS_SENTINELS[1], 128],
    ] as const) {
      try {
        rt.deleteAddress(ifindex, `${ip}/${prefix}`);
      } catch {
        // The device is gone already (the tunnel went down first): so are its addresses.
      }
    }
  } finally {
    rt.close();
  }
}
