// One program for the devstack images of docker/compose.yaml: `fz-devstack portal|gateway|resource|
// seed|admin [options]` runs that devstack program with the options that follow (each parses
// process.argv itself, so the command word is taken out first). Compiled by docker/devstack_build.ts;
// never part of the client image.
const COMMANDS = ["portal", "gateway", "resource", "seed", "admin"] as const;
type Command = (typeof COMMANDS)[number];

const command = process.argv[2] as Command | undefined;
if (!command || !COMMANDS.includes(command)) {
  console.error(`usage: fz-devstack ${COMMANDS.join("|")} [options]`);
  process.exit(64);
}
process.argv.splice(2, 1);
switch (command) {
  case "portal":
    await import("../devstack/portal/main.ts");
    break;
  case "gateway":
    await import("../devstack/gateway/main.ts");
    break;
  case "resource":
    await import("../devstack/resource.ts");
    break;
  case "seed":
    await import("./devstack_seed.ts");
    break;
  case "admin":
    await import("../devstack/portal/admin.ts");
    break;
}
