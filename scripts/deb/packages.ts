// The two packages: firezone-client (daemon, CLI, unit, group) and firezone-gui (tray and sign-in
// handler), their relations and descriptions. What each relation is for is in docs/install.md.
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { DebSpec } from "./build_deb.ts";
import type { Layout } from "./layout.ts";
import { maintainerScript } from "./maintainer_scripts.ts";

export interface Identity {
  version: string;
  arch: string;
  maintainer: string;
  date: Date;
  changes: string;
}

/** The keyring N-API addon embedded in firezone-gui, extracted and loaded at run time. */
function keyringAddon(root: string, arch: string): string {
  const dir = join(root, "node_modules/@napi-rs", `keyring-linux-${arch === "amd64" ? "x64" : arch}-gnu`);
  const addon = existsSync(dir) ? readdirSync(dir).find((f) => f.endsWith(".node")) : undefined;
  if (!addon) throw new Error(`${dir} has no .node addon (firezone-gui embeds it): run npm ci`);
  return join(dir, addon);
}

export function packageSpecs(root: string, files: Layout, id: Identity): DebSpec[] {
  const packaging = join(root, "packaging/deb");
  const script = (name: string) => maintainerScript(join(packaging, name), join(root, "install.sh"));
  const common = {
    version: id.version,
    arch: id.arch,
    maintainer: id.maintainer,
    date: id.date,
    changes: id.changes,
    copyright: join(packaging, "copyright"),
  };
  const client: DebSpec = {
    ...common,
    name: "firezone-client",
    section: "net",
    files: files.client,
    // An interactive session's scope (`user` by default) is enforced with nftables rules loaded by
    // nft; without it such a session refuses to come up (it fails closed), so nft is a dependency.
    depends: ["nftables"],
    // Without the kernel module, firezoned runs Debian's wireguard-go.
    recommends: ["wireguard-go"],
    // Firezone's own Linux GUI client package brings its own tunnel service, which claims the same
    // device name, routes and DNS settings.
    conflicts: ["firezone-client-gui"],
    description: `zero-trust access client: firezoned daemon and firezonectl
firezoned connects this host to a Firezone portal and reaches the resources
its policies allow through WireGuard tunnels to Firezone gateways. It runs as
a sandboxed systemd service (firezoned.service) and serves a local socket to
root and to the members of group firezone; firezonectl is its command line.
.
The daemon uses kernel WireGuard where the module is available and
wireguard-go otherwise. Service accounts sign in with a token in
/etc/firezoned/token; desktop users sign in with the firezone-gui package.`,
    scripts: {
      preinst: script("preinst"),
      postinst: script("firezone-client.postinst"),
      prerm: script("firezone-client.prerm"),
      postrm: script("firezone-client.postrm"),
    },
  };
  if (!files.gui) return [client];
  const gui: DebSpec = {
    ...common,
    name: "firezone-gui",
    section: "net",
    files: files.gui,
    // One daemon serves both; the GUI speaks its IPC protocol, built from the same tree.
    depends: [`firezone-client (= ${id.version})`, "xdg-utils"],
    runtimeObjects: [keyringAddon(root, id.arch)],
    description: `zero-trust access client: firezone-gui tray application
firezone-gui is the desktop side of the firezone-client daemon: a tray icon
(StatusNotifierItem) showing the connection and its resources, sign-in
through the browser with firezone-fd0020211111:// links handed over D-Bus,
the sign-in token kept in the desktop keyring, and notifications. It starts
at login (XDG autostart).`,
    scripts: { preinst: script("preinst") },
  };
  return [client, gui];
}
