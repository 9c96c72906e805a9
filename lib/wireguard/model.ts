// One WireGuard device model for configuration, status and both backends, after wireguard-tools'
// struct wgdevice: a field left out means "leave it as it is".

/** A peer. Keys are base64; `allowedIps` are CIDR strings. Read-only fields come back from `get`. */
export interface WgPeer {
  publicKey: string;
  /** null clears the preshared key. */
  presharedKey?: string | null;
  /** "203.0.113.1:51820" or "[2001:db8::1]:51820". */
  endpoint?: string;
  /** Seconds; 0 turns keepalives off. */
  persistentKeepalive?: number;
  allowedIps?: string[];
  /** Drop the peer's current allowed IPs before adding `allowedIps`. */
  replaceAllowedIps?: boolean;
  /** Remove this peer. */
  remove?: boolean;
  /** Change the peer only if it exists already. */
  updateOnly?: boolean;
  /** Milliseconds since the epoch of the last handshake; 0 for never (read-only). */
  lastHandshakeMs?: number;
  rxBytes?: number;
  txBytes?: number;
  protocolVersion?: number;
}

export interface WgDevice {
  /** Interface name (read-only in `set`; the backend knows its device). */
  name?: string;
  privateKey?: string;
  /** Derived from the private key (read-only). */
  publicKey?: string;
  /** 0 picks a random port. */
  listenPort?: number;
  /** 0 clears the mark. */
  fwmark?: number;
  /** Remove every peer not listed in `peers`. */
  replacePeers?: boolean;
  peers?: WgPeer[];
}

/** The tiny surface both backends implement, as wireguard-tools' ipc_set_device/ipc_get_device. */
export interface WgBackend {
  readonly kind: "kernel" | "userspace";
  /** Applies a change: fields left out stay as they are. */
  setDevice(change: WgDevice): Promise<void>;
  /** The device as it is now, with peers' handshake times and byte counters. */
  getDevice(): Promise<WgDevice>;
}

/**
 * What a device looks like after `change` is applied to `current` (both full configurations, no
 * read-only counters). Backends use it to replay the whole configuration after a restart.
 */
export function applyChange(current: WgDevice, change: WgDevice): WgDevice {
  const next: WgDevice = { ...current };
  if (change.privateKey !== undefined) next.privateKey = change.privateKey;
  if (change.listenPort !== undefined) next.listenPort = change.listenPort;
  if (change.fwmark !== undefined) next.fwmark = change.fwmark;
  const peers = new Map(
    (change.replacePeers ? [] : (current.peers ?? [])).map((p) => [p.publicKey, { ...p }]),
  );
  for (const p of change.peers ?? []) {
    const old = peers.get(p.publicKey);
    if (p.remove) {
      peers.delete(p.publicKey);
      continue;
    }
    if (!old && p.updateOnly) continue;
    const merged: WgPeer = { ...(old ?? { publicKey: p.publicKey }) };
    if (p.presharedKey !== undefined) merged.presharedKey = p.presharedKey;
    if (p.endpoint !== undefined) merged.endpoint = p.endpoint;
    if (p.persistentKeepalive !== undefined) merged.persistentKeepalive = p.persistentKeepalive;
    const base = p.replaceAllowedIps ? [] : (old?.allowedIps ?? []);
    merged.allowedIps = [...new Set([...base, ...(p.allowedIps ?? [])])];
    peers.set(p.publicKey, merged);
  }
  next.peers = [...peers.values()];
  return next;
}
