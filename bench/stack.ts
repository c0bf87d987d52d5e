/**
 * NATS, Redis and the three services, each its own process on free ports (packages/testkit), plus
 * a benchmark tenant made through the admin API the way deploy/dev/seed.ts makes the demo one. The
 * webhook dispatcher is started only by the benchmark that measures it (B10).
 */
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { adminClient } from "@heliograph/admin-client";
import type { PublisherCredentials, SubscriberCredentials } from "@heliograph/contracts";
import { DOCUMENT_TRADING_SIGNAL_BODY } from "@heliograph/contracts/fixtures";
import { streamKeys } from "@heliograph/store";
import {
  type NatsServerHandle,
  type RedisServerHandle,
  type ServiceHandle,
  type Stack,
  startServers,
  startService,
  startStack,
  waitFor,
} from "@heliograph/testkit";
import { Redis } from "ioredis";
import type { Components } from "./process-cost.js";

export interface BenchServers {
  nats: NatsServerHandle;
  redis: RedisServerHandle;
  /** The runner's own connection, for reading heads and logs. */
  client: Redis;
  stop(): Promise<void>;
}

export async function startBenchServers(): Promise<BenchServers> {
  // The servers alone: they outlive the Heliograph stacks the benchmarks start on them.
  const servers = await startServers({ nats: { reuseEnv: false }, redis: { reuseEnv: false } });
  const { nats, redis } = servers;
  const client = new Redis(redis.url, { maxRetriesPerRequest: 3 });
  return {
    nats,
    redis,
    client,
    async stop() {
      client.disconnect();
      await servers.stop();
      // The servers' temp folders hold every benchmark's data (hundreds of MB over a full run).
      for (const dir of [nats.storeDir, redis.dir])
        if (dir?.startsWith(tmpdir())) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Heliograph {
  servers: BenchServers;
  ingest: ServiceHandle;
  sequencer: ServiceHandle;
  stream: ServiceHandle;
  adminToken: string;
  /** The admin API of the ingest gateway (`adminClient`). */
  admin: ReturnType<typeof adminClient>;
  publisher: { id: string; apiKey: string; apiSecret: string };
  subscriber: { id: string; token: string };
  publisherHeaders: Record<string, string>;
  /** A new algorithm of the bench publisher, its stream readable by the bench subscriber. */
  newAlgorithmStream(): Promise<{ algorithmId: number; streamId: string; body: string }>;
  /** Several at once: one entitlement update, one wait for the gateway's cache. */
  newAlgorithmStreams(count: number): Promise<Array<{ algorithmId: number; streamId: string; body: string }>>;
  /** Makes streams of any id readable by the bench subscriber (B8's, which no algorithm owns). */
  entitle(streamIds: string[]): Promise<void>;
  head(streamId: string): Promise<number>;
  /** The pipeline's processes by component, for the per-event cost table (process-cost.ts). */
  components(): Components;
  /**
   * A webhook dispatcher on these servers, its own process: a stack of that service alone, so the
   * other benchmarks never share the machine with it. `stop()` stops it too if it still runs.
   */
  startWebhookDispatcher(): Promise<{ url: string; stop(): Promise<void> }>;
  /**
   * Another instance of a service on these servers, with the first one's environment on a port of
   * its own (B3x2's second stream gateway, B5x2's second sequencer). Its caller stops it; `stop()`
   * stops it too if it still runs.
   */
  startInstance(name: "sequencer" | "stream-gateway"): Promise<ServiceHandle>;
  stop(): Promise<void>;
}

const SERVICE_ENV: Record<string, string> = {
  LOG_LEVEL: "warn",
  // One publisher and one subscriber stand for many clients here: per-key limits would measure themselves.
  PUBLISHER_RATE_LIMIT: "0",
  SUBSCRIBER_RATE_LIMIT: "0",
  // B3 holds 10,000 long polls and B9 opens as many event streams (each waiting one holds a
  // waiter slot too), all as the one bench subscriber: its share (a tenth) would cap them.
  MAX_WAITERS_PER_SUBSCRIBER: "50000",
  MAX_SSE_CONNECTIONS: "20000",
  MAX_SSE_CONNECTIONS_PER_SUBSCRIBER: "20000",
  // Hot windows (docs/architecture.md, "The hot window"): the algorithm streams of B1–B5 are kept
  // whole, so B4 stays a read of Redis; B6 and B8 use streams of another kind, with a 1,000-event
  // window, so what they measure is the bounded tier and reads from EVENTS.
  HOT_WINDOW_SIGNAL_EVENTS: "1000000",
  HOT_WINDOW_EVENTS: "1000",
  // B10's receivers listen on 127.0.0.1 (the ingest gateway checks at creation, the dispatcher at delivery).
  WEBHOOK_ALLOW_PRIVATE_TARGETS: "true",
  // HG_BENCH_SERVICE_NODE_OPTIONS: e.g. an --import of a profiler preload, for the services alone.
  ...(process.env.HG_BENCH_SERVICE_NODE_OPTIONS ? { NODE_OPTIONS: process.env.HG_BENCH_SERVICE_NODE_OPTIONS } : {}),
};

export async function startHeliograph(servers: BenchServers): Promise<Heliograph> {
  const stack = await startStack({ nats: servers.nats, redis: servers.redis, env: SERVICE_ENV });
  const { adminToken } = stack;
  const admin = adminClient(stack.admin);
  const created = await admin<PublisherCredentials>("POST", "/publishers", {
    id: "bench-publisher",
    name: "Benchmark",
  });
  const subscriberCreated = await admin<SubscriberCredentials>("POST", "/subscribers", {
    id: "bench-subscriber",
    name: "Benchmark",
    streams: [],
  });
  const entitled: string[] = [];
  const dispatchers: Stack[] = [];
  const extras: ServiceHandle[] = [];
  const h: Heliograph = {
    servers,
    get ingest() {
      return stack.ingest;
    },
    get sequencer() {
      return stack.sequencer;
    },
    set sequencer(handle) {
      stack.sequencer = handle;
    },
    get stream() {
      return stack.stream;
    },
    adminToken,
    admin,
    publisher: { id: created.id, apiKey: created.api_key, apiSecret: created.api_secret },
    subscriber: { id: subscriberCreated.id, token: subscriberCreated.token },
    publisherHeaders: { "api-key": created.api_key, "api-secret": created.api_secret },
    async newAlgorithmStream() {
      return (await h.newAlgorithmStreams(1))[0]!;
    },
    async newAlgorithmStreams(count) {
      const made: Array<{ algorithmId: number; streamId: string; body: string }> = [];
      for (let i = 0; i < count; i++) {
        const algorithm = await admin<{ id: number }>("POST", "/algorithms", {
          publisher_id: created.id,
          name: `bench-${entitled.length + i}`,
        });
        const streamId = `algorithm-${algorithm.id}`;
        made.push({
          algorithmId: algorithm.id,
          streamId,
          body: JSON.stringify({ ...DOCUMENT_TRADING_SIGNAL_BODY, algorithm_id: algorithm.id }),
        });
      }
      await h.entitle(made.map((m) => m.streamId));
      return made;
    },
    async entitle(streamIds) {
      for (const streamId of streamIds) if (!entitled.includes(streamId)) entitled.push(streamId);
      await admin("PUT", `/subscribers/${subscriberCreated.id}/streams`, { streams: entitled });
      // The gateway caches entitlements briefly: wait until the new streams are readable.
      for (const streamId of streamIds) {
        await waitFor(
          async () =>
            (
              await fetch(`${stack.stream.url}/api/v1/stream/${streamId}/`, {
                headers: { authorization: `Bearer ${subscriberCreated.token}` },
              })
            ).status === 200,
          { timeoutMs: 10_000, intervalMs: 100, what: `${streamId} readable by the bench subscriber` },
        );
      }
    },
    components() {
      return {
        ingest: stack.ingest.pid,
        sequencer: stack.sequencer.pid,
        stream: stack.stream.pid,
        nats: servers.nats.process?.pid,
        redis: servers.redis.process?.pid,
      };
    },
    async head(streamId) {
      const value = await servers.client.get(streamKeys(streamId).head);
      return value === null ? -1 : Number(value);
    },
    async startWebhookDispatcher() {
      const alone = await startStack({
        nats: servers.nats,
        redis: servers.redis,
        services: { "webhook-dispatcher": 1 },
        env: SERVICE_ENV,
      });
      dispatchers.push(alone);
      return {
        url: alone.services["webhook-dispatcher"]!.url,
        async stop() {
          if (dispatchers.includes(alone)) dispatchers.splice(dispatchers.indexOf(alone), 1);
          await alone.stop();
        },
      };
    },
    async startInstance(name) {
      const { PORT: _port, ...env } = stack.instances[name][0]!.env;
      const handle = await startService(name, env);
      extras.push(handle);
      return handle;
    },
    async stop() {
      for (const extra of extras.splice(0)) if (extra.running()) await extra.stop();
      for (const alone of dispatchers.splice(0)) await alone.stop();
      await stack.stop();
    },
  };
  return h;
}
