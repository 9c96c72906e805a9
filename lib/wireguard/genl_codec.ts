// WireGuard's generic netlink messages (linux/wireguard.h): WG_CMD_SET_DEVICE built the way
// wireguard-tools' kernel_set_device builds it, including the split into several messages when the
// peers do not fit in one, and WG_CMD_GET_DEVICE dump replies merged back into one WgDevice.
import {
  NLM,
  type NlMessage,
  NlWriter,
  parseAttrs,
  readString,
  readU16,
  readU32,
  readU64,
} from "../netlink/index.ts";
import {
  formatEndpoint,
  keyBytes,
  keyToBase64,
  networkOf,
  parseCidr,
  parseEndpoint,
  publicKeyOf,
} from "../util/index.ts";
import type { WgDevice, WgPeer } from "./model.ts";

export const WG_GENL_NAME = "wireguard";
export const WG_GENL_VERSION = 1;
export const WG_CMD = { GET_DEVICE: 0, SET_DEVICE: 1 } as const;
export const WGDEVICE_A = {
  IFINDEX: 1,
  IFNAME: 2,
  PRIVATE_KEY: 3,
  PUBLIC_KEY: 4,
  FLAGS: 5,
  LISTEN_PORT: 6,
  FWMARK: 7,
  PEERS: 8,
} as const;
export const WGDEVICE_F_REPLACE_PEERS = 1;
export const WGPEER_A = {
  PUBLIC_KEY: 1,
  PRESHARED_KEY: 2,
  FLAGS: 3,
  ENDPOINT: 4,
  PERSISTENT_KEEPALIVE_INTERVAL: 5,
  LAST_HANDSHAKE_TIME: 6,
  RX_BYTES: 7,
  TX_BYTES: 8,
  ALLOWEDIPS: 9,
  PROTOCOL_VERSION: 10,
} as const;
export const WGPEER_F = { REMOVE_ME: 1, REPLACE_ALLOWEDIPS: 2, UPDATE_ONLY: 4 } as const;
export const WGALLOWEDIP_A = { FAMILY: 1, IPADDR: 2, CIDR_MASK: 3 } as const;

const AF_INET = 2;
const AF_INET6 = 10;
/** wireguard-tools' SOCKET_BUFFER_SIZE on 4 KiB pages: the most one message may carry. */
export const WG_MAX_MESSAGE = 4096;

export interface WgMessageContext {
  familyId: number;
  ifname: string;
  portId?: number;
  /** Sequence number of the first message; each further one takes the next number. */
  seq: number;
  maxBytes?: number;
}

/** struct sockaddr_in / sockaddr_in6 of an endpoint; the port in network byte order. */
export function encodeSockaddr(endpoint: string): Uint8Array {
  const e = parseEndpoint(endpoint);
  const b = new Uint8Array(e.family === 4 ? 16 : 28);
  const v = new DataView(b.buffer);
  v.setUint16(0, e.family === 4 ? AF_INET : AF_INET6, true);
  v.setUint16(2, e.port, false);
  b.set(e.bytes, e.family === 4 ? 4 : 8);
  return b;
}

export function decodeSockaddr(b: Uint8Array): string | undefined {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (b.length < 4) return undefined;
  const family = v.getUint16(0, true);
  const port = v.getUint16(2, false);
  if (family === AF_INET && b.length >= 16) return formatEndpoint(b.subarray(4, 8), port);
  if (family === AF_INET6 && b.length >= 24) return formatEndpoint(b.subarray(8, 24), port);
  return undefined;
}

/** The WG_CMD_SET_DEVICE messages for `change`, split as wireguard-tools splits them. */
export function encodeSetDevice(change: WgDevice, ctx: WgMessageContext): Uint8Array[] {
  const max = ctx.maxBytes ?? WG_MAX_MESSAGE;
  const peers = change.peers ?? [];
  const out: Uint8Array[] = [];
  let peerAt = 0;
  let ipAt = 0; // next allowed IP of peers[peerAt] when a peer continues from the previous message
  let first = true;
  for (;;) {
    const w = new NlWriter().begin(
      ctx.familyId,
      NLM.F_REQUEST | NLM.F_ACK,
      ctx.seq + out.length,
      ctx.portId ?? 0,
    );
    w.u8(WG_CMD.SET_DEVICE).u8(WG_GENL_VERSION).u16(0);
    w.attrString(WGDEVICE_A.IFNAME, ctx.ifname);
    if (first) {
      if (change.privateKey !== undefined) w.attr(WGDEVICE_A.PRIVATE_KEY, keyBytes(change.privateKey));
      if (change.listenPort !== undefined) w.attrU16(WGDEVICE_A.LISTEN_PORT, change.listenPort);
      if (change.fwmark !== undefined) w.attrU32(WGDEVICE_A.FWMARK, change.fwmark);
      if (change.replacePeers) w.attrU32(WGDEVICE_A.FLAGS, WGDEVICE_F_REPLACE_PEERS);
      first = false;
    }
    if (peerAt < peers.length) {
      const peersNest = w.nestStart(WGDEVICE_A.PEERS);
      const progress = [peerAt, ipAt];
      let full = false;
      while (peerAt < peers.length && !full) {
        const p = peers[peerAt]!;
        const mark = w.length;
        const peerNest = w.nestStart(0);
        w.attr(WGPEER_A.PUBLIC_KEY, keyBytes(p.publicKey));
        let flags = p.remove ? WGPEER_F.REMOVE_ME : 0;
        if (ipAt === 0) {
          if (p.replaceAllowedIps) flags |= WGPEER_F.REPLACE_ALLOWEDIPS;
          if (p.updateOnly) flags |= WGPEER_F.UPDATE_ONLY;
          if (p.presharedKey !== undefined)
            w.attr(
              WGPEER_A.PRESHARED_KEY,
              p.presharedKey === null ? new Uint8Array(32) : keyBytes(p.presharedKey),
            );
          if (p.endpoint !== undefined) w.attr(WGPEER_A.ENDPOINT, encodeSockaddr(p.endpoint));
          if (p.persistentKeepalive !== undefined)
            w.attrU16(WGPEER_A.PERSISTENT_KEEPALIVE_INTERVAL, p.persistentKeepalive);
        }
        if (flags) w.attrU32(WGPEER_A.FLAGS, flags);
        const ips = p.remove ? [] : (p.allowedIps ?? []);
        // Room for the fixed part, plus the WGPEER_A_ALLOWEDIPS header when IPs follow.
        if (w.length + (ips.length > ipAt ? 4 : 0) > max) {
          // The peer's fixed part does not fit: it opens the next message.
          w.truncate(mark);
          break;
        }
        if (ips.length > ipAt) {
          const ipsNest = w.nestStart(WGPEER_A.ALLOWEDIPS);
          for (; ipAt < ips.length; ipAt++) {
            const before = w.length;
            const c = networkOf(parseCidr(ips[ipAt]!));
            const n = w.nestStart(0);
            w.attrU16(WGALLOWEDIP_A.FAMILY, c.family === 4 ? AF_INET : AF_INET6);
            w.attr(WGALLOWEDIP_A.IPADDR, c.bytes);
            w.attrU8(WGALLOWEDIP_A.CIDR_MASK, c.prefix);
            w.nestEnd(n);
            if (w.length > max) {
              // The rest of this peer's allowed IPs continue in the next message.
              w.truncate(before);
              full = true;
              break;
            }
          }
          w.nestEnd(ipsNest);
        }
        w.nestEnd(peerNest);
        if (!full) {
          peerAt++;
          ipAt = 0;
        }
      }
      w.nestEnd(peersNest);
      if (progress[0] === peerAt && progress[1] === ipAt)
        throw new Error(`a WireGuard message of ${max} bytes cannot hold even one peer or allowed IP`);
    }
    out.push(w.end().finish());
    if (peerAt >= peers.length) return out;
  }
}

/** The WG_CMD_GET_DEVICE dump request for `ifname`. */
export function encodeGetDevice(ctx: WgMessageContext): Uint8Array {
  const w = new NlWriter().begin(
    ctx.familyId,
    NLM.F_REQUEST | NLM.F_ACK | NLM.F_DUMP,
    ctx.seq,
    ctx.portId ?? 0,
  );
  w.u8(WG_CMD.GET_DEVICE).u8(WG_GENL_VERSION).u16(0);
  return w.attrString(WGDEVICE_A.IFNAME, ctx.ifname).end().finish();
}

function decodePeer(data: Uint8Array): WgPeer {
  const peer: WgPeer = { publicKey: "", allowedIps: [] };
  for (const a of parseAttrs(data)) {
    switch (a.type) {
      case WGPEER_A.PUBLIC_KEY:
        peer.publicKey = keyToBase64(a.data);
        break;
      case WGPEER_A.PRESHARED_KEY:
        peer.presharedKey = a.data.every((x) => x === 0) ? null : keyToBase64(a.data);
        break;
      case WGPEER_A.ENDPOINT: {
        const ep = decodeSockaddr(a.data);
        if (ep) peer.endpoint = ep;
        break;
      }
      case WGPEER_A.PERSISTENT_KEEPALIVE_INTERVAL:
        peer.persistentKeepalive = readU16(a.data);
        break;
      case WGPEER_A.LAST_HANDSHAKE_TIME:
        // struct __kernel_timespec: s64 seconds, s64 nanoseconds.
        peer.lastHandshakeMs =
          Number(readU64(a.data, 0)) * 1000 + Math.floor(Number(readU64(a.data, 8)) / 1e6);
        break;
      case WGPEER_A.RX_BYTES:
        peer.rxBytes = Number(readU64(a.data));
        break;
      case WGPEER_A.TX_BYTES:
        peer.txBytes = Number(readU64(a.data));
        break;
      case WGPEER_A.PROTOCOL_VERSION:
        peer.protocolVersion = readU32(a.data);
        break;
      case WGPEER_A.ALLOWEDIPS:
        for (const ip of parseAttrs(a.data)) {
          const f = new Map(parseAttrs(ip.data).map((x) => [x.type, x.data]));
          const addr = f.get(WGALLOWEDIP_A.IPADDR);
          const mask = f.get(WGALLOWEDIP_A.CIDR_MASK);
          if (addr && mask && (addr.length === 4 || addr.length === 16))
            peer.allowedIps!.push(`${formatIpText(addr)}/${mask[0]}`);
        }
        break;
    }
  }
  return peer;
}

function formatIpText(addr: Uint8Array): string {
  return formatEndpoint(addr, 1).replace(/^\[?(.*?)\]?:1$/, "$1");
}

/** Merges the replies of a GET_DEVICE dump; a peer cut across two messages becomes one peer again. */
export function decodeGetDevice(messages: NlMessage[]): WgDevice {
  const device: WgDevice = { peers: [] };
  for (const m of messages) {
    for (const a of parseAttrs(m.body, 4)) {
      if (a.type === WGDEVICE_A.IFNAME) device.name = readString(a.data);
      else if (a.type === WGDEVICE_A.PRIVATE_KEY && a.data.some((x) => x !== 0)) {
        device.privateKey = keyToBase64(a.data);
        device.publicKey = publicKeyOf(device.privateKey);
      } else if (a.type === WGDEVICE_A.PUBLIC_KEY && a.data.some((x) => x !== 0))
        device.publicKey = keyToBase64(a.data);
      else if (a.type === WGDEVICE_A.LISTEN_PORT) device.listenPort = readU16(a.data);
      else if (a.type === WGDEVICE_A.FWMARK) device.fwmark = readU32(a.data);
      else if (a.type === WGDEVICE_A.PEERS) {
        for (const p of parseAttrs(a.data)) {
          const peer = decodePeer(p.data);
          const last = device.peers!.at(-1);
          if (last && last.publicKey === peer.publicKey) last.allowedIps!.push(...(peer.allowedIps ?? []));
          else device.peers!.push(peer);
        }
      }
    }
  }
  return device;
}
