import { DEFAULT_PARTITION_COUNT } from "@heliograph/contracts";
import { connectNats, connectRedis, createMetricsRegistry, type Logger } from "@heliograph/platform";
import { createSequencer, type SequencerOptions } from "./sequencer.js";

/** Test-only: a sequencer with its own NATS and Redis connections, as a separate process has. */
export async function startSequencerInstance(
  urls: { nats: string; redis: string },
  id: string,
  log: Logger,
  overrides: Partial<SequencerOptions> = {},
) {
  const nc = await connectNats(urls.nats, log, id);
  const redis = await connectRedis(urls.redis, log, id);
  const metrics = createMetricsRegistry("sequencer");
  const sequencer = createSequencer({
    nc,
    redis,
    log,
    metrics,
    config: {
      SEQUENCER_ID: id,
      PARTITIONS: DEFAULT_PARTITION_COUNT,
      LEASE_TTL_MS: 1_000,
      BATCH_MAX: 500,
      APPLIED_TTL_SECONDS: 3600,
      ...overrides,
    },
  });
  await sequencer.start();
  let crashed = false;
  let stopped = false;
  return {
    id,
    sequencer,
    nc,
    redis,
    metrics,
    /** Like kill -9: the connections go away; nothing is finished or released. */
    async crash() {
      crashed = true;
      await nc.close();
      redis.disconnect();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await sequencer.stop();
      if (!crashed) {
        await nc.drain();
        await redis.quit();
      }
    },
  };
}
export type SequencerInstance = Awaited<ReturnType<typeof startSequencerInstance>>;
