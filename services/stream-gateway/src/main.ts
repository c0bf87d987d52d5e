import { connectNats, connectRedis, createLogger, ensureStreams, loadConfig, onShutdown } from "@heliograph/platform";
import { buildApp } from "./app.js";
import { StreamGatewayEnv } from "./config.js";

const config = loadConfig(StreamGatewayEnv);
const log = createLogger({ name: "stream-gateway", level: config.LOG_LEVEL, pretty: config.LOG_PRETTY });
try {
  const nc = await connectNats(config.NATS_URL, log, "stream-gateway");
  await ensureStreams(nc, { replicas: config.JETSTREAM_REPLICAS, log });
  const redis = await connectRedis(config.REDIS_URL, log, "stream-gateway");
  const app = await buildApp({ log, nc, redis, config });
  // A large accept queue: thousands of clients connecting at once (long polls, load) are queued,
  // not refused (the kernel caps it at net.core.somaxconn).
  await app.listen({ host: config.HOST, port: config.PORT, backlog: 8192 });
  onShutdown(log, [
    {
      name: "stop accepting and end long polls",
      run: async () => {
        // Held polls get [] now, so their clients re-poll another instance.
        app.hub.drain();
        await app.close();
      },
    },
    { name: "stop the events consumer", run: () => app.hub.stop() },
    { name: "drain NATS", run: () => nc.drain() },
    { name: "quit Redis", run: () => redis.quit() },
  ]);
} catch (err) {
  log.fatal({ err }, "stream-gateway failed to start");
  process.exit(1);
}
