/**
 * What `pnpm dev` (start.ts) and `pnpm cluster` (cluster.ts) share: where their state folder and
 * dev.json are, the check that their ports are free, the copy-paste examples they print, and
 * stopping everything once on Ctrl-C.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { isAbsolute, join, relative, resolve } from "node:path";
import { REPO_ROOT, tcpReady } from "@heliograph/testkit";
import type { DevConfig } from "./seed.js";

export interface StateFolder {
  dir: string;
  /** The folder as a developer in the repository would type it (`.heliograph`). */
  shown: string;
  devJson: string;
}

/** HG_STATE_DIR when set (tests use a temp folder, so a developer's data is never touched), else `fallback` in the repository. */
export function stateFolder(fallback: string): StateFolder {
  const dir = process.env.HG_STATE_DIR ? resolve(process.env.HG_STATE_DIR) : join(REPO_ROOT, fallback);
  const inRepo = relative(REPO_ROOT, dir);
  mkdirSync(dir, { recursive: true });
  return {
    dir,
    shown: inRepo.startsWith("..") || isAbsolute(inRepo) ? dir : inRepo,
    devJson: join(dir, "dev.json"),
  };
}

/** A port from the environment variable `name`, else `fallback`. */
export const envPort = (name: string, fallback: number) => Number(process.env[name] ?? fallback);

export function fail(command: string, message: string): never {
  console.error(`\nheliograph ${command}: ${message}\n`);
  process.exit(1);
}

/** Exits with a message naming the port and its HG_*_PORT variable when something already listens on one. */
export async function refuseTakenPorts(command: string, ports: Record<string, number>): Promise<void> {
  for (const [name, port] of Object.entries(ports)) {
    if (await tcpReady(port))
      fail(
        command,
        `port ${port} (${name}) is in use. Stop what holds it (an earlier 'pnpm ${command}'?) or set HG_${name.toUpperCase()}_PORT.`,
      );
  }
}

export function readDevJson<T extends DevConfig>(state: StateFolder): Partial<T> {
  return existsSync(state.devJson) ? JSON.parse(readFileSync(state.devJson, "utf8")) : {};
}

export function writeDevJson(state: StateFolder, dev: DevConfig): void {
  // Credentials and the admin token: readable by this user only.
  writeFileSync(state.devJson, `${JSON.stringify(dev, null, 2)}\n`, { mode: 0o600 });
}

/**
 * On SIGINT or SIGTERM, `stop` once (a second Ctrl-C while stopping does nothing more), then
 * "stopped." and exit 0. Returns whether shutdown has begun, for watchers of child processes.
 */
export function stopOnSignals(
  what: string,
  stop: () => Promise<void>,
): { stopping(): boolean; stopNow(): Promise<void> } {
  let stopping = false;
  const stopNow = async () => {
    if (stopping) return;
    stopping = true;
    console.log(`\nstopping ${what} ...`);
    await stop();
    console.log("stopped.");
    process.exit(0);
  };
  process.on("SIGINT", stopNow);
  process.on("SIGTERM", stopNow);
  return { stopping: () => stopping, stopNow };
}

/** The block printed once the stack runs: where things are, then curl and Python examples with dev.json's credentials. */
export function examplesText(
  dev: DevConfig,
  state: StateFolder,
  parts: {
    /** The lines naming the URLs (gateways, admin API, token). */
    urls: string;
    /** The last paragraph (what Ctrl-C does, where data stays). */
    footer: string;
  },
): string {
  const { publisher, subscriber } = dev;
  return `
Heliograph is running. Credentials and URLs are in ${state.shown}/dev.json.

${parts.urls}

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

${parts.footer}
`;
}
