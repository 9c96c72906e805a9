// The UAPI text wireguard-go speaks, and how a device changes when a change is applied to it.
import { describe, expect, test } from "bun:test";
import { keyToHex } from "../../lib/util/index.ts";
import { applyChange, decodeUapiGet, encodeUapiSet, uapiErrno } from "../../lib/wireguard/index.ts";

const keyOf = (b: number) => Buffer.alloc(32, b).toString("base64");
const [PRIV, A, B] = [keyOf(1), keyOf(2), keyOf(3)];

describe("UAPI protocol", () => {
  test("a change becomes set=1 lines in the order wireguard-go expects, ending in a blank line", () => {
    const text = encodeUapiSet({
      privateKey: PRIV,
      listenPort: 0,
      replacePeers: true,
      peers: [
        {
          publicKey: A,
          endpoint: "[2001:db8::1]:51820",
          persistentKeepalive: 25,
          replaceAllowedIps: true,
          allowedIps: ["10.0.0.9/8"],
        },
        { publicKey: B, remove: true },
      ],
    });
    expect(text).toBe(
      [
        "set=1",
        `private_key=${keyToHex(PRIV)}`,
        "listen_port=0",
        "replace_peers=true",
        `public_key=${keyToHex(A)}`,
        "endpoint=[2001:db8::1]:51820",
        "persistent_keepalive_interval=25",
        "replace_allowed_ips=true",
        "allowed_ip=10.0.0.0/8",
        `public_key=${keyToHex(B)}`,
        "remove=true",
        "",
        "",
      ].join("\n"),
    );
  });

  test("a get=1 reply becomes a WgDevice with handshake time and counters", () => {
    const dev = decodeUapiGet(
      [
        `private_key=${keyToHex(PRIV)}`,
        "listen_port=40000",
        `public_key=${keyToHex(A)}`,
        `preshared_key=${"0".repeat(64)}`,
        "protocol_version=1",
        "endpoint=192.0.2.2:51820",
        "last_handshake_time_sec=1700000000",
        "last_handshake_time_nsec=250000000",
        "tx_bytes=10",
        "rx_bytes=20",
        "persistent_keepalive_interval=25",
        "allowed_ip=10.99.0.0/24",
        "allowed_ip=fd99::/64",
        "errno=0",
        "",
        "",
      ].join("\n"),
    );
    expect(dev.privateKey).toBe(PRIV);
    expect(dev.listenPort).toBe(40000);
    expect(dev.peers).toEqual([
      {
        publicKey: A,
        presharedKey: null,
        protocolVersion: 1,
        endpoint: "192.0.2.2:51820",
        lastHandshakeMs: 1_700_000_000_250,
        txBytes: 10,
        rxBytes: 20,
        persistentKeepalive: 25,
        allowedIps: ["10.99.0.0/24", "fd99::/64"],
      },
    ]);
    expect(uapiErrno("errno=-22\n\n")).toBe(-22);
  });
});

describe("applying a change to a device (what a restarted backend gets replayed)", () => {
  const base = applyChange(
    {},
    { privateKey: PRIV, peers: [{ publicKey: A, allowedIps: ["10.0.0.0/8"], endpoint: "192.0.2.1:1" }] },
  );

  test("omitted fields stay as they were; allowed IPs add up unless replaced", () => {
    const next = applyChange(base, { peers: [{ publicKey: A, allowedIps: ["10.1.0.0/16"] }] });
    expect(next.privateKey).toBe(PRIV);
    expect(next.peers).toEqual([
      { publicKey: A, endpoint: "192.0.2.1:1", allowedIps: ["10.0.0.0/8", "10.1.0.0/16"] },
    ]);
    const replaced = applyChange(next, {
      peers: [{ publicKey: A, replaceAllowedIps: true, allowedIps: ["10.2.0.0/16"] }],
    });
    expect(replaced.peers![0]!.allowedIps).toEqual(["10.2.0.0/16"]);
  });

  test("replacePeers keeps only the listed peers; remove drops one; updateOnly never creates", () => {
    expect(
      applyChange(base, { replacePeers: true, peers: [{ publicKey: B }] }).peers!.map((p) => p.publicKey),
    ).toEqual([B]);
    expect(applyChange(base, { peers: [{ publicKey: A, remove: true }] }).peers).toEqual([]);
    expect(
      applyChange(base, { peers: [{ publicKey: B, updateOnly: true }] }).peers!.map((p) => p.publicKey),
    ).toEqual([A]);
  });
});
