// Seeds the compose example's portal database once: account `demo`, service account `demo-bot`,
// site `hq`, resource `web` (172.31.0.10) with a policy for everyone. Writes the client's and the
// gateway's tokens into --secrets as root's 0400 files (what firezoned's token-file checks ask for).
// Run again on an existing database, it changes nothing and keeps the tokens it wrote.
//
//   fz-devstack seed --db /data/portal.sqlite --secrets /secrets [--resource 172.31.0.10]
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { Store } from "../devstack/portal/store.ts";

const { values } = parseArgs({
  options: {
    db: { type: "string" },
    secrets: { type: "string" },
    resource: { type: "string", default: "172.31.0.10" },
  },
});
if (!values.db || !values.secrets) {
  console.error("usage: fz-devstack seed --db FILE --secrets DIR [--resource IP]");
  process.exit(64);
}
const clientToken = join(values.secrets, "client_token");
const gatewayToken = join(values.secrets, "gateway_token");
mkdirSync(dirname(values.db), { recursive: true });
const store = new Store(values.db);
try {
  if (store.account("demo") && existsSync(clientToken) && existsSync(gatewayToken)) {
    console.log("seed: already seeded");
  } else {
    const account = store.account("demo") ?? store.createAccount("demo", "Demo Co");
    const bot =
      store.actor(account.id, "demo-bot") ??
      store.createActor(account.id, "demo-bot", { type: "service_account" });
    const site = store.site(account.id, "hq") ?? store.createSite(account.id, "hq");
    if (!store.findResource(account.id, "web")) {
      const web = store.createResource(account.id, site.id, {
        name: "web",
        type: "ip",
        address: values.resource ?? "172.31.0.10",
      });
      store.createPolicy(account.id, store.group(account.id, "everyone")!, web.id);
    }
    mkdirSync(values.secrets, { recursive: true, mode: 0o755 });
    writeFileSync(
      clientToken,
      `${store.createClientToken(bot.id, { expiresInMs: 30 * 86_400_000 }).token}\n`,
      {
        mode: 0o400,
      },
    );
    writeFileSync(gatewayToken, `${store.createGatewayToken(site.id).token}\n`, { mode: 0o400 });
    console.log("seed: account demo, service account demo-bot, site hq, resource web; tokens written");
  }
} finally {
  store.close();
}
