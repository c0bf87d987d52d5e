import {
  ErrorBody,
  EVENTS_STREAM,
  INGEST_STREAM,
  type JetStreamRetention,
  PartitionsOverview,
  partitionOf,
  SequencerInstance,
  type StreamId,
  type StreamKind,
  StreamSummary,
  sequencerConsumerName,
} from "@heliograph/contracts";
import { fromBackingService, isConsumerNotFound, type Redis } from "@heliograph/platform";
import {
  type ControlPlane,
  countParked,
  haltedStreamsKey,
  readEarliestHot,
  readHalt,
  readPartitionLeases,
  readSequencerInstances,
  readStreamState,
} from "@heliograph/store";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";

export interface OperationsRoutesDeps {
  controlPlane: ControlPlane;
  redis: Redis;
  nc: NatsConnection;
  /** INGEST partition count (PARTITIONS). */
  partitions: number;
}

const errors = { 401: ErrorBody.describe("AUTH_MISSING or AUTH_INVALID"), 503: ErrorBody };

/** Streams read from Redis at once while listing: bounds the commands one list puts in flight. */
const LIST_CONCURRENCY = 32;

interface Known {
  kind: StreamKind;
  publisher_id?: string;
  title?: string;
}

async function mapBounded<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/**
 * What operators watch (the console's Streams and Sequencers pages): every known stream with its
 * head, status and hot window, the INGEST partitions with their lease holders and lag, and the
 * sequencer instances. Registered inside the admin routes, behind their bearer check.
 */
export function operationsRoutes(deps: OperationsRoutesDeps): FastifyPluginAsyncZod {
  const { redis, nc } = deps;
  const cp = deps.controlPlane;
  return async (scope) => {
    const jsm = await jetstreamManager(nc);

    scope.get(
      "/streams",
      {
        schema: {
          description:
            "Every known stream: those of resources, algorithms and idea channels, and any other that is halted; " +
            "each with its head, status, publishes held behind a halt, publishes operators skipped (parked), " +
            "partition and the first event its hot window (Redis) holds.",
          tags: ["admin: streams"],
          response: { 200: z.array(StreamSummary), ...errors },
        },
      },
      async (): Promise<StreamSummary[]> => {
        const known = new Map<StreamId, Known>();
        const [resources, algorithms, channels, halted] = await fromBackingService(() =>
          Promise.all([
            cp.listResources(),
            cp.listAlgorithms(),
            cp.listIdeaChannels(),
            redis.smembers(haltedStreamsKey),
          ]),
        );
        for (const r of resources)
          known.set(r.stream_id, { kind: "resource", publisher_id: r.publisher_id, title: r.title });
        for (const a of algorithms)
          known.set(a.stream_id, { kind: "algorithm", publisher_id: a.publisher_id, title: a.name });
        for (const c of channels)
          known.set(c.stream_id, { kind: "ideas", publisher_id: c.publisher_id, title: c.title });
        for (const sid of halted) if (!known.has(sid)) known.set(sid, { kind: "other" });
        const ids = [...known.keys()].sort();
        return fromBackingService(() =>
          mapBounded(ids, LIST_CONCURRENCY, async (streamId): Promise<StreamSummary> => {
            const [state, earliest, parked] = await Promise.all([
              readStreamState(redis, streamId),
              readEarliestHot(redis, streamId),
              countParked(redis, streamId),
            ]);
            const halt = state.status === "halted" ? await readHalt(redis, streamId) : undefined;
            return {
              stream_id: streamId,
              ...state,
              held: halt?.held ?? 0,
              ...(known.get(streamId) as Known),
              partition: partitionOf(streamId, deps.partitions),
              earliest_hot: earliest,
              parked,
            };
          }),
        );
      },
    );

    const retention = async (stream: string): Promise<JetStreamRetention> => {
      const info = await jsm.streams.info(stream);
      return {
        stream,
        max_age_seconds: info.config.max_age / 1e9,
        max_bytes: info.config.max_bytes,
        messages: info.state.messages,
        bytes: info.state.bytes,
        first_seq: info.state.first_seq,
        last_seq: info.state.last_seq,
      };
    };
    const lagOf = async (partition: number): Promise<number | undefined> => {
      try {
        const info = await jsm.consumers.info(INGEST_STREAM, sequencerConsumerName(partition));
        return info.num_pending + info.num_ack_pending;
      } catch (err) {
        // Before a sequencer first takes the partition (or while one recreates it).
        if (isConsumerNotFound(err)) return undefined;
        throw err;
      }
    };

    scope.get(
      "/partitions",
      {
        schema: {
          description:
            "Each INGEST partition: the sequencer instance holding its lease, the lease's epoch and expiry, and its " +
            "lag (INGEST messages not yet numbered); with the retention settings and contents of INGEST and EVENTS.",
          tags: ["admin: sequencers"],
          response: { 200: PartitionsOverview, ...errors },
        },
      },
      async (): Promise<PartitionsOverview> =>
        fromBackingService(async () => {
          const ids = Array.from({ length: deps.partitions }, (_, p) => p);
          const [leases, lags, ingest, events] = await Promise.all([
            readPartitionLeases(redis, deps.partitions),
            mapBounded(ids, LIST_CONCURRENCY, lagOf),
            retention(INGEST_STREAM),
            retention(EVENTS_STREAM),
          ]);
          return {
            partitions: leases.map((lease) => ({
              partition: lease.partition,
              epoch: lease.epoch,
              ...(lease.owner === undefined ? {} : { owner: lease.owner }),
              ...(lease.expiresInMs === undefined ? {} : { lease_expires_in_ms: lease.expiresInMs }),
              ...(lags[lease.partition] === undefined ? {} : { lag: lags[lease.partition] }),
            })),
            ingest,
            events,
          };
        }),
    );

    scope.get(
      "/sequencers",
      {
        schema: {
          description:
            "The sequencer instances in the registry, when each last announced itself and the partitions whose " +
            "lease it holds.",
          tags: ["admin: sequencers"],
          response: { 200: z.array(SequencerInstance), ...errors },
        },
      },
      async (): Promise<SequencerInstance[]> =>
        fromBackingService(async () => {
          const [instances, leases] = await Promise.all([
            readSequencerInstances(redis),
            readPartitionLeases(redis, deps.partitions),
          ]);
          return instances.map((instance) => ({
            id: instance.id,
            last_seen: new Date(instance.lastSeenMs).toISOString(),
            partitions: leases.filter((l) => l.owner === instance.id).map((l) => l.partition),
          }));
        }),
    );
  };
}
