/**
 * `pnpm dev`: the whole stack on this machine. nats-server and redis-server (binaries on the PATH,
 * or containers where a Docker engine runs) keep their data in .heliograph/data, so a second run
 * finds the first run's streams and tenants (the control plane is a NATS KV bucket, in
 * .heliograph/data/nats); then the four services; then a seeded demo tenant and a demo webhook
 * endpoint to a local receiver that prints what it gets, written to .heliograph/dev.json, and
 * copy-paste examples. Ctrl-C stops everything in reverse order.
 * HG_STATE_DIR puts .heliograph elsewhere (its test uses a temp folder, so a developer's data is
 * never touched; the CLI finds dev.json only in .heliograph); HG_*_PORT choose the ports.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { type Stack, StackStartError, startStack } from "@heliograph/testkit";
import {
  envPort,
  examplesText,
  fail as failWith,
  readDevJson,
  refuseTakenPorts,
  stateFolder,
  stopOnSignals,
  writeDevJson,
} from "./local-run.js";
import { type DevConfig, seedDemoTenant } from "./seed.js";
import { seedDemoWebhook, startDemoReceiver } from "./webhook-receiver.js";

const STATE = stateFolder(".heliograph");
const PORTS = {
  nats: envPort("HG_NATS_PORT", 14222),
  redis: envPort("HG_REDIS_PORT", 16379),
  ingest: envPort("HG_INGEST_PORT", 8080),
  admin: envPort("HG_ADMIN_PORT", 8090),
  stream: envPort("HG_STREAM_PORT", 8081),
  sequencer: envPort("HG_SEQUENCER_PORT", 8082),
  webhooks: envPort("HG_WEBHOOK_PORT", 8083),
  receiver: envPort("HG_RECEIVER_PORT", 8084),
};

function fail(message: string): never {
  return failWith("dev", message);
}

async function main() {
  mkdirSync(join(STATE.dir, "data/nats"), { recursive: true });
  mkdirSync(join(STATE.dir, "data/redis"), { recursive: true });
  const previous = readDevJson(STATE);

  // NATS_URL / REDIS_URL name servers that are not started here: their ports are not checked.
  const { nats, redis, ...servicePorts } = PORTS;
  await refuseTakenPorts("dev", {
    ...(process.env.NATS_URL ? {} : { nats }),
    ...(process.env.REDIS_URL ? {} : { redis }),
    ...servicePorts,
  });

  console.log(
    `starting nats-server and redis-server (data in ${STATE.shown}/data), then ingest-gateway, sequencer, stream-gateway, webhook-dispatcher ...`,
  );
  let stack: Stack;
  try {
    stack = await startStack({
      nats: { port: PORTS.nats, storeDir: join(STATE.dir, "data/nats"), ownProcessGroup: true },
      redis: { port: PORTS.redis, dir: join(STATE.dir, "data/redis"), ownProcessGroup: true },
      services: { "ingest-gateway": 1, sequencer: 1, "stream-gateway": 1, "webhook-dispatcher": 1 },
      ports: {
        "ingest-gateway": PORTS.ingest,
        sequencer: PORTS.sequencer,
        "stream-gateway": PORTS.stream,
        "webhook-dispatcher": PORTS.webhooks,
      },
      // The token of an earlier run, so its dev.json and scripts keep working.
      adminToken: previous.admin_token,
      env: {
        LOG_LEVEL: process.env.LOG_LEVEL ?? "info",
        LOG_PRETTY: process.env.LOG_PRETTY ?? "true",
        ADMIN_PORT: String(PORTS.admin),
        // The demo receiver is on loopback: never set this where subscribers register URLs.
        WEBHOOK_ALLOW_PRIVATE_TARGETS: "true",
      },
      echo: true,
      ownProcessGroup: true,
    });
  } catch (err) {
    const part = err instanceof StackStartError ? err.part : undefined;
    fail(
      part === "nats-server" || part === "redis-server"
        ? `${(err as Error).message}\nHeliograph needs nats-server (2.9+, with JetStream) and redis-server (7+): ` +
            "apt-get install nats-server redis-server, or run a Docker engine (containers are started through testcontainers)."
        : (err as Error).message,
    );
  }

  let dev: DevConfig;
  try {
    dev = await seedDemoTenant(stack, previous);
  } catch (err) {
    // The servers and services lead their own process groups: nothing else would stop them.
    await stack.stop();
    fail(`seeding the demo tenant failed: ${(err as Error).stack ?? String(err)}`);
  }
  let receiver: Awaited<ReturnType<typeof startDemoReceiver>>;
  try {
    receiver = await startDemoReceiver(PORTS.receiver, () => dev.webhook?.secret);
    dev.webhook = await seedDemoWebhook(
      stack.admin,
      dev.subscriber,
      dev.streams.algorithm,
      `http://127.0.0.1:${PORTS.receiver}/webhook`,
      previous.webhook,
    );
  } catch (err) {
    await stack.stop();
    fail(`starting the demo webhook receiver failed: ${(err as Error).stack ?? String(err)}`);
  }
  writeDevJson(STATE, dev);
  console.log(
    examplesText(dev, STATE, {
      urls: `  ingest gateway   ${dev.ingest_url}   (docs: ${dev.ingest_url}/docs)
  stream gateway   ${dev.stream_url}   (docs: ${dev.stream_url}/docs)
  admin API        ${dev.admin_url}   (docs: ${dev.admin_url}/docs; loopback only)
  web console      ${dev.admin_url}/console/   (sign in with the admin token)
  admin token      ${dev.admin_token}
  webhooks         ${dev.webhook?.url} receives ${dev.streams.algorithm} (endpoint ${dev.webhook?.id}; it prints each event below)`,
      footer: `Ctrl-C stops everything; data stays in ${STATE.shown}/data for the next run.`,
    }),
  );
  const natsAdmin = stack.nats.credentials;
  // NATS runs with a user per role and new passwords each run; an operator's tools connect as admin.
  if (natsAdmin)
    console.log(`  NATS (admin)     ${stack.nats.url}   user ${natsAdmin.user}, password ${natsAdmin.password}\n`);

  const { stopping, stopNow } = stopOnSignals("services, then redis-server and nats-server", async () => {
    await stack.stop();
    receiver.closeAllConnections();
    receiver.close();
  });
  // A service that dies takes the stack down with a clear message rather than leaving half of it.
  for (const svc of Object.values(stack.instances).flat()) {
    void svc.exited().then((code) => {
      if (!stopping()) {
        console.error(`\n${svc.name} exited (${code}); stopping the stack.`);
        void stopNow();
      }
    });
  }
}

main().catch((err) => fail((err as Error).stack ?? String(err)));
