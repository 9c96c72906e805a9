// A second uplink for the client of a devstack world: another veth between the hub (10.77.3.1,
// to-client2) and the client (10.77.3.2, to-hub2), up, without a route over it yet. Roaming tests
// and bench/roam.ts move the default route onto it.
import { inNs } from "../../devstack/shared/netns.ts";

export async function addSecondUplink(world: { hub: string; client: string }): Promise<void> {
  const hub = (...args: string[]) => inNs(world.hub, args);
  const cli = (...args: string[]) => inNs(world.client, args);
  await hub(
    "ip",
    "link",
    "add",
    "to-client2",
    "type",
    "veth",
    "peer",
    "name",
    "to-hub2",
    "netns",
    world.client,
  );
  await hub("ip", "addr", "add", "10.77.3.1/24", "dev", "to-client2");
  await hub("ip", "link", "set", "to-client2", "up");
  await cli("ip", "addr", "add", "10.77.3.2/24", "dev", "to-hub2");
  await cli("ip", "link", "set", "to-hub2", "up");
}
