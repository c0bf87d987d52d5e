import {
  connectNats,
  connectRedis,
  createLogger,
  createMetricsRegistry,
  ensureStreams,
  onShutdown,
} from "@heliograph/platform";
import { buildApp } from "./app.js";
import { loadSequencerConfig } from "./config.js";
import { createSequencer } from "./sequencer.js";

const config = loadSequencerConfig();
const log = createLogger({ name: "sequencer", level: config.LOG_LEVEL, pretty: config.LOG_PRETTY });
const metrics = createMetricsRegistry("sequencer");

const nc = await connectNats(config.NATS_URL, log, `sequencer-${config.SEQUENCER_ID}`);
await ensureStreams(nc, { replicas: config.JETSTREAM_REPLICAS, log });
const redis = await connectRedis(config.REDIS_URL, log, `sequencer-${config.SEQUENCER_ID}`);

const sequencer = createSequencer({ nc, redis, log, metrics, config });
const app = await buildApp({ log, metrics, nc, redis });
await sequencer.start();
await app.listen({ port: config.PORT, host: config.HOST });

onShutdown(log, [
  { name: "http", run: () => app.close() },
  { name: "partition workers", run: () => sequencer.stop() },
  { name: "nats", run: () => nc.drain() },
  { name: "redis", run: () => redis.quit() },
]);
