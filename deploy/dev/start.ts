/**
 * `pnpm dev`: the whole stack on this machine. nats-server and redis-server (binaries on the PATH,
 * or containers where a Docker engine runs) keep their data in .heliograph/data, so a second run
 * finds the first run's streams and tenants (the control plane is a NATS KV bucket, in
 * .heliograph/data/nats); then the three services; then a seeded demo tenant, written to
 * .heliograph/dev.json, and copy-paste examples. Ctrl-C stops everything in reverse order.
 * HG_STATE_DIR puts .heliograph elsewhere (its test uses a temp folder, so a developer's data is
 * never touched; the CLI finds dev.json only in .heliograph); HG_*_PORT choose the ports.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { isAbsolute, join, relative, resolve } from "node:path";
import { REPO_ROOT, type Stack, StackStartError, startStack, tcpReady } from "@heliograph/testkit";
import { type DevConfig, seedDemoTenant } from "./seed.js";

const STATE_DIR = process.env.HG_STATE_DIR ? resolve(process.env.HG_STATE_DIR) : join(REPO_ROOT, ".heliograph");
/** The state folder as a developer in the repository would type it. */
const SHOWN_STATE_DIR = (() => {
  const inRepo = relative(REPO_ROOT, STATE_DIR);
  return inRepo.startsWith("..") || isAbsolute(inRepo) ? STATE_DIR : inRepo;
})();
const DEV_JSON = join(STATE_DIR, "dev.json");
const port = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const PORTS = {
  nats: port("HG_NATS_PORT", 14222),
  redis: port("HG_REDIS_PORT", 16379),
  ingest: port("HG_INGEST_PORT", 8080),
  admin: port("HG_ADMIN_PORT", 8090),
  stream: port("HG_STREAM_PORT", 8081),
  sequencer: port("HG_SEQUENCER_PORT", 8082),
};

function fail(message: string): never {
  console.error(`\nheliograph dev: ${message}\n`);
  process.exit(1);
}

async function main() {
  mkdirSync(join(STATE_DIR, "data/nats"), { recursive: true });
  mkdirSync(join(STATE_DIR, "data/redis"), { recursive: true });
  const previous: Partial<DevConfig> = existsSync(DEV_JSON) ? JSON.parse(readFileSync(DEV_JSON, "utf8")) : {};

  for (const [name, p] of Object.entries(PORTS)) {
    const ownServer = (name === "nats" && !process.env.NATS_URL) || (name === "redis" && !process.env.REDIS_URL);
    if ((ownServer || !["nats", "redis"].includes(name)) && (await tcpReady(p))) {
      fail(
        `port ${p} (${name}) is in use. Stop what holds it (an earlier 'pnpm dev'?) or set HG_${name.toUpperCase()}_PORT.`,
      );
    }
  }

  console.log(
    `starting nats-server and redis-server (data in ${SHOWN_STATE_DIR}/data), then ingest-gateway, sequencer, stream-gateway ...`,
  );
  let stack: Stack;
  try {
    stack = await startStack({
      nats: { port: PORTS.nats, storeDir: join(STATE_DIR, "data/nats"), ownProcessGroup: true },
      redis: { port: PORTS.redis, dir: join(STATE_DIR, "data/redis"), ownProcessGroup: true },
      ports: { "ingest-gateway": PORTS.ingest, sequencer: PORTS.sequencer, "stream-gateway": PORTS.stream },
      // The token of an earlier run, so its dev.json and scripts keep working.
      adminToken: previous.admin_token,
      env: {
        LOG_LEVEL: process.env.LOG_LEVEL ?? "info",
        LOG_PRETTY: process.env.LOG_PRETTY ?? "true",
        ADMIN_PORT: String(PORTS.admin),
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
  writeFileSync(DEV_JSON, `${JSON.stringify(dev, null, 2)}\n`, { mode: 0o600 });
  printExamples(dev);
  const natsAdmin = stack.nats.credentials;
  // NATS runs with a user per role and new passwords each run; an operator's tools connect as admin.
  if (natsAdmin)
    console.log(`  NATS (admin)     ${stack.nats.url}   user ${natsAdmin.user}, password ${natsAdmin.password}\n`);

  let shuttingDown = false;
  const shutdown = async () => {
    if (shuttingDown) return;
    shuttingDown = true;
    console.log("\nstopping services, then redis-server and nats-server ...");
    await stack.stop();
    console.log("stopped.");
    process.exit(0);
  };
  process.on("SIGINT", shutdown);
  process.on("SIGTERM", shutdown);
  // A service that dies takes the stack down with a clear message rather than leaving half of it.
  for (const svc of Object.values(stack.instances).flat()) {
    void svc.exited().then((code) => {
      if (!shuttingDown) {
        console.error(`\n${svc.name} exited (${code}); stopping the stack.`);
        void shutdown();
      }
    });
  }
}

function printExamples(dev: DevConfig) {
  const { publisher, subscriber } = dev;
  console.log(`
Heliograph is running. Credentials and URLs are in ${SHOWN_STATE_DIR}/dev.json.

  ingest gateway   ${dev.ingest_url}   (docs: ${dev.ingest_url}/docs)
  stream gateway   ${dev.stream_url}   (docs: ${dev.stream_url}/docs)
  admin API        ${dev.admin_url}   (docs: ${dev.admin_url}/docs; loopback only)
  admin token      ${dev.admin_token}

Publish a trading signal (curl):

  curl -s -X POST ${dev.ingest_url}/api/v1/create_trading_signal \\
    -H 'API-KEY: ${publisher.api_key}' -H 'API-SECRET: ${publisher.api_secret}' \\
    -H 'Content-Type: application/json' -H "Idempotency-Key: $(uuidgen || date +%s%N)" \\
    -d '{"algorithm_id": ${dev.algorithm_id}, "ticker_symbol": "AAPL", "order_type": "market", "portfolio_ratio_investment": 0.01, "side": "buy", "time_in_force": "gtc"}'

Read the stream, waiting up to 10 s for new events (curl, as in the trade-ideas document):

  curl -H 'Authorization: Bearer ${subscriber.token}' -H 'X-Long-Poll: 10' ${dev.stream_url}/api/v1/stream/${dev.streams.algorithm}/-1/100

Open a trade idea (the trade-ideas document's example; then update and close with idea-update.json, idea-close.json):

  curl -s -X POST ${dev.ingest_url}/api/v1/ideas/${dev.idea_channel}/open \\
    -H 'API-KEY: ${publisher.api_key}' -H 'API-SECRET: ${publisher.api_secret}' \\
    -H 'Content-Type: application/json' -H 'X-Heliograph-Wait: 5' -d @deploy/dev/examples/idea-open.json
  curl -H 'Authorization: Bearer ${subscriber.token}' -H 'X-Long-Poll: 10' ${dev.stream_url}/api/v1/stream/${dev.streams.ideas}/-1/100

Operators: pnpm heliograph halts | halt show <stream> | halt skip <stream> | halt retry <stream>

Publish with the resources document's Python code (only BASE_URL changes):

  API_KEY='${publisher.api_key}' API_SECRET='${publisher.api_secret}' python3 - <<'PY'
import os, requests
BASE_URL = '${dev.ingest_url}/api/v1'
HEADERS = {'API-KEY': os.environ['API_KEY'], 'API-SECRET': os.environ['API_SECRET']}
r = requests.post(BASE_URL + '/create_trading_signal', headers=HEADERS, json={
    "algorithm_id": ${dev.algorithm_id}, "ticker_symbol": "AAPL", "order_type": "market",
    "portfolio_ratio_investment": 0.01, "side": "buy", "time_in_force": "gtc"})
print(r.status_code, r.json())
PY

Ctrl-C stops everything; data stays in ${SHOWN_STATE_DIR}/data for the next run.
`);
}

main().catch((err) => fail((err as Error).stack ?? String(err)));
