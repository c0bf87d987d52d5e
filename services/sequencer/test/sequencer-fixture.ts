import { DEFAULT_PARTITION_COUNT, type StreamId } from "@heliograph/contracts";
import {
  connectNats,
  connectRedis,
  createMetricsRegistry,
  ensureStreams,
  type Logger,
  type NatsConnection,
  type NatsTarget,
  type Redis,
} from "@heliograph/platform";
import { LOG_INGEST_FIELD, streamKeys } from "@heliograph/store";
import { type NatsServerHandle, type RedisServerHandle, startServers } from "@heliograph/testkit";
import { type JetStreamClient, type JetStreamManager, jetstream } from "@nats-io/jetstream";
import { afterAll, beforeAll, expect } from "vitest";
import { createSequencer, type SequencerOptions } from "../src/sequencer.js";
import { readNumbered } from "./ingest-fixture.js";

/** Test-only: a sequencer with its own NATS and Redis connections, as a separate process has. */
export async function startSequencerInstance(
  urls: { nats: NatsTarget; redis: string },
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
  try {
    await sequencer.start();
  } catch (err) {
    await nc.close();
    redis.disconnect();
    throw err;
  }
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

/**
 * Test-only: a nats-server and a redis-server for one describe block, connections to them, and
 * sequencer instances started against them (all stopped after the block).
 */
export function useSequencerServers(
  log: Logger,
  options: {
    /** Lease TTL of the instances started with `start` (the instance default otherwise). */
    leaseTtlMs?: number;
    /** Always start servers of its own, even when NATS_URL/REDIS_URL are set (tests that restart them). */
    ownServers?: boolean;
  } = {},
) {
  const instances: SequencerInstance[] = [];
  const ctx = {} as {
    natsServer: NatsServerHandle;
    redisServer: RedisServerHandle;
    nc: NatsConnection;
    redis: Redis;
    js: JetStreamClient;
    jsm: JetStreamManager;
  };
  beforeAll(async () => {
    const reuseEnv = !options.ownServers;
    ({ nats: ctx.natsServer, redis: ctx.redisServer } = await startServers({
      nats: { reuseEnv },
      redis: { reuseEnv },
    }));
    ctx.nc = await connectNats(ctx.natsServer, log, "test");
    ctx.jsm = await ensureStreams(ctx.nc, { replicas: 1 });
    ctx.js = jetstream(ctx.nc);
    ctx.redis = await connectRedis(ctx.redisServer.url, log, "test");
  });
  afterAll(async () => {
    for (const instance of instances) await instance.stop().catch(() => {});
    await ctx.nc?.drain().catch(() => {});
    await ctx.redis?.quit().catch(() => {});
    await Promise.all([ctx.natsServer?.stop(), ctx.redisServer?.stop()]);
  });
  return {
    ctx,
    async start(id: string, overrides: Partial<SequencerOptions> = {}): Promise<SequencerInstance> {
      const instance = await startSequencerInstance(
        { nats: ctx.natsServer.as("sequencer"), redis: ctx.redisServer.url },
        id,
        log,
        {
          ...(options.leaseTtlMs === undefined ? {} : { LEASE_TTL_MS: options.leaseTtlMs }),
          ...overrides,
        },
      );
      instances.push(instance);
      return instance;
    },
    /** Numbers 0..count-1 in publish order, EVENTS equal to the log, one log entry per ingest id. */
    async expectExactlyOnceInOrder(streamId: StreamId, count: number): Promise<void> {
      const { texts, events, published } = await readNumbered(ctx.redis, ctx.js, streamId);
      expect(events.map((e) => e.event_number)).toEqual([...Array(count).keys()]);
      expect(events.map((e) => e.data.k)).toEqual([...Array(count).keys()]);
      expect(published).toEqual(texts);
      const entries = await ctx.redis.xrange(streamKeys(streamId).log, "-", "+");
      const ingestIds = entries.map(([, fields]) => fields[fields.indexOf(LOG_INGEST_FIELD) + 1]);
      expect(new Set(ingestIds).size).toBe(count);
    },
  };
}
