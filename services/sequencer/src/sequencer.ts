import {
  EVENTS_STREAM,
  EVENTS_SUBJECTS,
  INGEST_STREAM,
  LEASE_FREED_SUBJECT,
  LeaseFreedNotice,
  partitionOf,
  RESUME_SUBJECT,
  ResumeNotice,
  StreamId,
  streamIdOfSubject,
  VERIFY_SUBJECT_PREFIX,
} from "@heliograph/contracts";
import { JetStreamPublisher, type Logger, onRedisServerChange, type Redis, type Registry } from "@heliograph/platform";
import { claimPartitionCount, resumableStreamsKey } from "@heliograph/store";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection, QueuedIterator, Status, Subscription } from "@nats-io/nats-core";
import { registerBacklogMetrics } from "./backlog-metrics.js";
import type { SequencerConfig } from "./config.js";
import { EventsWriter } from "./events-writer.js";
import { PartitionLeases } from "./lease.js";
import { createMetrics } from "./metrics.js";
import { PartitionBalancer } from "./partition-balancer.js";
import { PartitionWorker, type WorkerContext } from "./partition-worker.js";
import { defineSequenceStep } from "./sequence-step.js";

export type SequencerOptions = Pick<
  SequencerConfig,
  "SEQUENCER_ID" | "PARTITIONS" | "LEASE_TTL_MS" | "BATCH_MAX" | "APPLIED_TTL_SECONDS"
> &
  Partial<
    Pick<SequencerConfig, "REDIS_CLUSTER" | "HOT_WINDOW_EVENTS" | "HOT_WINDOW_SIGNAL_EVENTS" | "HOT_WINDOW_IDEA_EVENTS">
  >;

export interface SequencerDeps {
  nc: NatsConnection;
  redis: Redis;
  log: Logger;
  metrics: Registry;
  config: SequencerOptions;
}

export interface Sequencer {
  /**
   * Registers the instance and takes free partitions up to its fair share (the partition count
   * over the live instances, rounded up), then keeps balancing; resolves after the first attempt.
   */
  start(): Promise<void>;
  /** Stops consuming, finishes each in-flight batch (its acks go out) and releases the leases. */
  stop(): Promise<void>;
  ownedPartitions(): number[];
}

/** The JetStream client's default request timeout, as `js.publish` had. */
const EVENTS_PUBLISH_TIMEOUT_MS = 5_000;
/** How often each instance looks for resolved halts of its partitions (a lost ResumeNotice). */
const RESUME_SCAN_MS = 1_000;

/**
 * The sequencer: a PartitionBalancer holds this instance's share of the partition leases, and a
 * PartitionWorker numbers each partition it holds. Here: what spans the partitions (the NATS
 * connection's status, resolved halts to drain) and the order of start and stop.
 */
export function createSequencer(deps: SequencerDeps): Sequencer {
  const { nc, redis, config } = deps;
  const log = deps.log.child({ component: "sequencer", sequencerId: config.SEQUENCER_ID });
  const metrics = createMetrics(deps.metrics);
  // Scripts are defined before the connection is used by anything here (see defineSequenceStep).
  defineSequenceStep(redis);
  const leases = new PartitionLeases(redis, config.SEQUENCER_ID, config.LEASE_TTL_MS);
  let ctx: WorkerContext | undefined;
  let publisher: JetStreamPublisher | undefined;
  const balancer = new PartitionBalancer({
    leases,
    log,
    metrics,
    partitions: config.PARTITIONS,
    leaseTtlMs: config.LEASE_TTL_MS,
    // Partitions are only taken once started, so the context exists by then.
    createWorker: (partition, epoch) => new PartitionWorker(partition, epoch, ctx!),
    announceFreed(partitions) {
      try {
        nc.publish(LEASE_FREED_SUBJECT, JSON.stringify({ partitions } satisfies LeaseFreedNotice));
      } catch (err) {
        // The others take the partitions at their next lease tick instead.
        log.warn({ err, partitions }, "could not announce freed leases");
      }
    },
  });
  registerBacklogMetrics(deps.metrics, { redis, jsm: () => ctx?.jsm, owned: () => balancer.owned() });
  let statusWatch: QueuedIterator<Status> | undefined;
  let resumeSub: Subscription | undefined;
  let resumeScan: NodeJS.Timeout | undefined;
  let scanning = false;
  let verifySub: Subscription | undefined;
  let freedSub: Subscription | undefined;
  /**
   * Bumped when Redis's connection is made again, or a cluster's node or slot master changed: every
   * stream is verified against EVENTS before it is numbered.
   */
  let redisGeneration = 0;
  let stopWatchingRedis: (() => void) | undefined;
  const onRedisReady = () => {
    redisGeneration++;
    log.warn(
      { generation: redisGeneration },
      "Redis reconnected or a cluster master changed; verifying every stream against EVENTS",
    );
    void verifyAllOwned();
  };

  /** Asks each owned partition's worker to verify every stream EVENTS holds for it (Redis may have come back behind). */
  async function verifyAllOwned(): Promise<void> {
    if (!ctx || balancer.workerCount === 0) return;
    try {
      const info = await ctx.jsm.streams.info(EVENTS_STREAM, { subjects_filter: EVENTS_SUBJECTS });
      for (const subject of Object.keys(info.state.subjects ?? {})) {
        const streamId = streamIdOfSubject(subject);
        balancer.worker(partitionOf(streamId, config.PARTITIONS))?.requestVerify(streamId);
      }
    } catch (err) {
      log.warn({ err }, "could not list the streams of EVENTS to verify them");
    }
  }

  /** The owning worker of a stream's partition numbers its held list; other instances ignore it. */
  function drainIfOwned(streamId: StreamId): void {
    balancer.worker(partitionOf(streamId, config.PARTITIONS))?.requestDrain(streamId);
  }

  async function scanResumable(): Promise<void> {
    if (scanning || balancer.workerCount === 0) return;
    scanning = true;
    try {
      for (const streamId of await redis.smembers(resumableStreamsKey)) drainIfOwned(streamId);
    } catch (err) {
      log.warn({ err }, "could not read the resumable streams");
    } finally {
      scanning = false;
    }
  }

  async function watchNats(iterator: QueuedIterator<Status>): Promise<void> {
    for await (const status of iterator) {
      // Deliveries may have been lost while disconnected: re-read each partition in order.
      if (status.type === "reconnect") balancer.resyncAll("NATS reconnected");
    }
  }

  return {
    async start() {
      const jsm = await jetstreamManager(nc);
      // Another PARTITIONS than INGEST's layout would number streams out of order: refused unless
      // INGEST is drained and no sequencer of the old count runs (then this one records the new count).
      const { replaced } = await claimPartitionCount(
        redis,
        config.PARTITIONS,
        async () => (await jsm.streams.info(INGEST_STREAM)).state.messages,
      );
      if (replaced !== undefined)
        log.warn({ from: replaced, to: config.PARTITIONS }, "partition count changed (INGEST was drained)");
      publisher = new JetStreamPublisher(nc, EVENTS_PUBLISH_TIMEOUT_MS);
      ctx = {
        nc,
        js: jetstream(nc),
        writer: new EventsWriter({ publisher, jsm, log, metrics }),
        redisGeneration: () => redisGeneration,
        jsm,
        redis,
        leases,
        log,
        metrics,
        config,
      };
      statusWatch = nc.status() as QueuedIterator<Status>;
      void watchNats(statusWatch).catch((err) => log.warn({ err }, "NATS status watch ended"));
      resumeSub = nc.subscribe(RESUME_SUBJECT, {
        callback: (err, msg) => {
          if (err) return;
          try {
            const notice = ResumeNotice.safeParse(msg.json());
            if (notice.success) drainIfOwned(notice.data.stream_id);
          } catch {
            // Not JSON: nothing to resume; the periodic scan covers real resolutions.
          }
        },
      });
      resumeScan = setInterval(() => void scanResumable(), RESUME_SCAN_MS);
      // A reader (the stream gateway) found a stream's Redis behind EVENTS: its owner repairs it.
      verifySub = nc.subscribe(`${VERIFY_SUBJECT_PREFIX}.*`, {
        callback: (err, msg) => {
          if (err) return;
          const streamId = msg.string();
          if (!StreamId.safeParse(streamId).success) return;
          balancer.worker(partitionOf(streamId, config.PARTITIONS))?.requestVerify(streamId);
        },
      });
      // Another instance released leases (it stops, or hands one over): take them now, not at the next tick.
      freedSub = nc.subscribe(LEASE_FREED_SUBJECT, {
        callback: (err, msg) => {
          if (err) return;
          try {
            if (LeaseFreedNotice.safeParse(msg.json()).success) balancer.tickSoon();
          } catch {
            // Not JSON: not a notice; the next tick looks anyway.
          }
        },
      });
      stopWatchingRedis = onRedisServerChange(redis, onRedisReady);
      await balancer.start();
    },

    async stop() {
      clearInterval(resumeScan);
      resumeSub?.unsubscribe();
      verifySub?.unsubscribe();
      freedSub?.unsubscribe();
      stopWatchingRedis?.();
      await balancer.leave();
      statusWatch?.stop();
      const owned = await balancer.stopWorkers();
      // Every worker is done (its batches published or given up): nothing waits for a PubAck.
      publisher?.close();
      // Released and announced: the others take them at once (docs/architecture.md, "Failover").
      const freed = await balancer.release(owned);
      await nc.flush().catch(() => {});
      log.info({ partitions: owned, freed }, "sequencer stopped");
    },

    ownedPartitions() {
      return balancer.owned();
    },
  };
}
