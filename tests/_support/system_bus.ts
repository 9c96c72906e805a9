// A private dbus-daemon with a system bus's configuration, for what listens to logind: logind itself
// needs to be systemd's and cannot run in a test, so a fixture plays it on this bus.
import { writeFileSync } from "node:fs";
import { join } from "node:path";

export interface SystemBus {
  /** The bus socket's path (what firezoned's busPath option takes). */
  socketPath: string;
  /** `unix:path=...`, for DBUS_SYSTEM_BUS_ADDRESS and the fixtures. */
  address: string;
  proc: Bun.Subprocess;
}

/** Starts the bus with its socket and configuration in `dir` (which must exist); resolves once it listens. */
export async function startSystemBus(dir: string): Promise<SystemBus> {
  const socketPath = join(dir, "system_bus_socket");
  const address = `unix:path=${socketPath}`;
  // Anyone may own names and send: which sender is believed is what the code under test decides.
  writeFileSync(
    join(dir, "system.conf"),
    `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>${address}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow receive_type="signal"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
  </policy>
</busconfig>
`,
  );
  const proc = Bun.spawn(
    ["dbus-daemon", `--config-file=${join(dir, "system.conf")}`, "--nofork", "--print-address"],
    { stdout: "pipe", stderr: "ignore" },
  );
  // It prints its address once it listens.
  const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
  await reader.read();
  reader.releaseLock();
  return { socketPath, address, proc };
}
