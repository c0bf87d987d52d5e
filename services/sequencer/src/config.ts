import { hostname } from "node:os";
import { DEFAULT_PARTITION_COUNT } from "@heliograph/contracts";
import { BaseEnv, envBoolean, envInt, loadConfig } from "@heliograph/platform";
import { z } from "zod";

export const SequencerEnv = BaseEnv.extend({
  PORT: envInt(8082, 0, 65_535),
  HOST: z.string().min(1).default("127.0.0.1"),
  /** Must equal the partition count the ingest gateways publish with. */
  PARTITIONS: envInt(DEFAULT_PARTITION_COUNT, 1, 1024),
  /** Names this instance in partition leases; unique per process. */
  SEQUENCER_ID: z.string().min(1).max(200).default(`${hostname()}-${process.pid}`),
  /**
   * A partition whose owner stops renewing (kill -9, a stall) is taken over after this long; renewed
   * every quarter of it. Shorter fails over faster; an owner stalled longer than this (GC pause,
   * Redis unreachable) loses its partitions, safely (epoch fencing), and takes its share again after.
   */
  LEASE_TTL_MS: envInt(2_000, 300, 600_000),
  /** Most INGEST messages numbered in one step. */
  BATCH_MAX: envInt(500, 1, 10_000),
  /** How long a numbered ingest message is remembered, so a redelivery is not numbered again. */
  APPLIED_TTL_SECONDS: envInt(86_400, 60, 30 * 86_400),
  /**
   * Read the partition epoch with a separate command before each batch instead of inside the
   * numbering step, as on a Redis Cluster (where the step may touch only its stream's slot, and
   * which sets this by itself: REDIS_URL names a cluster, see connectRedis). True on a single server only to
   * measure or test the cluster's way.
   */
  REDIS_CLUSTER: envBoolean(false),
  /**
   * Events each stream's Redis log keeps (the hot window; older ones are read from EVENTS): for
   * resource streams and any other kind without a setting of its own. At least 10, so the most
   * recent ten always come from Redis.
   */
  HOT_WINDOW_EVENTS: envInt(10_000, 10),
  /** The hot window of trading-signal streams (`algorithm-<id>`). */
  HOT_WINDOW_SIGNAL_EVENTS: envInt(1_000, 10),
  /** The hot window of idea channels (`ideas-<channel>`); idea states are kept whatever it is. */
  HOT_WINDOW_IDEA_EVENTS: envInt(100_000, 10),
});
export type SequencerConfig = z.infer<typeof SequencerEnv>;

export const loadSequencerConfig = (env: Record<string, string | undefined> = process.env): Readonly<SequencerConfig> =>
  loadConfig(SequencerEnv, env);
