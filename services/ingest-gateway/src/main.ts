import {
  ConfigError,
  connectNats,
  connectRedis,
  createLogger,
  ensureStreams,
  loadConfig,
  onShutdown,
} from "@heliograph/platform";
import { buildApp } from "./app.js";
import { IngestEnv } from "./config.js";

const config = (() => {
  try {
    return loadConfig(IngestEnv);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(`ingest-gateway: ${err.message}`);
    process.exit(1);
  }
})();
const log = createLogger({ name: "ingest-gateway", level: config.LOG_LEVEL, pretty: config.LOG_PRETTY });

try {
  const nc = await connectNats(config.NATS_URL, log, "ingest-gateway");
  await ensureStreams(nc, { replicas: config.JETSTREAM_REPLICAS, log });
  const redis = await connectRedis(config.REDIS_URL, log, "ingest-gateway");
  const app = await buildApp({ log, nc, redis, config });
  // A large accept queue: thousands of clients connecting at once (long polls, load) are queued,
  // not refused (the kernel caps it at net.core.somaxconn).
  await app.listen({ host: config.HOST, port: config.PORT, backlog: 8192 });
  onShutdown(log, [
    // Stops accepting and answers 503 SHUTTING_DOWN while in-flight publishes finish.
    { name: "http", run: () => app.close() },
    { name: "nats", run: () => nc.drain() },
    { name: "redis", run: () => redis.quit() },
  ]);
} catch (err) {
  log.fatal({ err }, "ingest-gateway failed to start");
  process.exit(1);
}
