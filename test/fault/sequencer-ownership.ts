/**
 * Which sequencer instance owns which partition (read from the leases in Redis), and when each
 * stream was numbered (heard on the sequencers' `heliograph.sequenced.<p>` notices): what the
 * failover tests time a takeover with.
 */
import { DEFAULT_PARTITION_COUNT, partitionOf, SEQUENCED_SUBJECT_PREFIX, SequencedNotice } from "@heliograph/contracts";
import { connectRedis, createLogger, type Redis } from "@heliograph/platform";
import { partitionLeaseKey } from "@heliograph/store";
import type { ServiceHandle } from "@heliograph/testkit";
import { waitFor } from "@heliograph/testkit";
import { connect, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import { afterAll, beforeAll } from "vitest";
import { type FaultStack, startFaultStack } from "./fault-stack.js";

export interface SequencerFaultContext {
  stack: FaultStack;
  /** The test's own connections: Redis (heads, leases) and NATS as admin (notices). */
  redis: Redis;
  nc: NatsConnection;
}

/**
 * For one test file: a fault stack with `sequencers` instances and one load stream per algorithm,
 * at the default lease TTL (2 s; `HG_FAILOVER_LEASE_TTL_MS` runs it with another, e.g. the old
 * 10 s), filled in before the tests and stopped after them.
 */
export function useSequencerFaultStack(options: { algorithms: number; sequencers: number }): SequencerFaultContext {
  const ctx = {} as SequencerFaultContext;
  const log = createLogger({ name: "sequencer-fault-test", level: "warn" });
  beforeAll(async () => {
    ctx.stack = await startFaultStack({
      ...options,
      env: { LEASE_TTL_MS: process.env.HG_FAILOVER_LEASE_TTL_MS ?? "2000" },
    });
    ctx.redis = await connectRedis(ctx.stack.redis.url, log, "sequencer-fault-test");
    ctx.nc = await connect({ ...ctx.stack.natsConnectOptions(), maxReconnectAttempts: -1 });
  }, 60_000);
  afterAll(async () => {
    await ctx.nc?.close();
    await ctx.redis?.quit();
    await ctx.stack?.stop();
  });
  return ctx;
}

/** A sequencer's default SEQUENCER_ID is `<hostname>-<pid>`: the lease names the process. */
const ownedBy = (owner: string | null, handle: ServiceHandle) =>
  owner !== null && handle.pid !== undefined && owner.endsWith(`-${handle.pid}`);

/** For each partition, the index in `sequencers` of the instance holding its lease (-1: none of them). */
export async function leaseOwners(
  redis: Redis,
  sequencers: ServiceHandle[],
  partitions = DEFAULT_PARTITION_COUNT,
): Promise<number[]> {
  const owners = await redis.mget(...Array.from({ length: partitions }, (_, p) => partitionLeaseKey(p)));
  return owners.map((owner) => sequencers.findIndex((handle) => ownedBy(owner, handle)));
}

/** Waits until every partition is held by one of `sequencers` and each holds its fair share. */
export async function waitForBalance(redis: Redis, sequencers: ServiceHandle[], timeoutMs = 20_000): Promise<number[]> {
  const share = Math.ceil(DEFAULT_PARTITION_COUNT / sequencers.length);
  let owners: number[] = [];
  await waitFor(
    async () => {
      owners = await leaseOwners(redis, sequencers);
      if (owners.includes(-1)) return false;
      return sequencers.every((_, i) => owners.filter((o) => o === i).length <= share);
    },
    { timeoutMs, intervalMs: 50, what: `${DEFAULT_PARTITION_COUNT} partitions shared by ${sequencers.length}` },
  ).catch((err) => {
    throw new Error(`${(err as Error).message}; owners: ${JSON.stringify(owners)}`);
  });
  // Shared is not yet settled: an instance that still counts a third one live hands partitions
  // over for a tick or two more. The same owners a while later are what a fault test starts from.
  await new Promise((resolve) => setTimeout(resolve, SETTLED_MS));
  const again = await leaseOwners(redis, sequencers);
  if (JSON.stringify(again) !== JSON.stringify(owners)) return waitForBalance(redis, sequencers, timeoutMs);
  return owners;
}

/** How long the owners must stay the same to count as settled: two lease ticks at the default TTL. */
const SETTLED_MS = 1_000;

export const partitionOfStream = (streamId: string) => partitionOf(streamId, DEFAULT_PARTITION_COUNT);

export interface NumberingWatch {
  /**
   * Resolves with the time (performance.now) at which a notice numbering `streamId` above
   * `aboveNumber` arrived, the earliest such if one came already.
   */
  numberedAbove(streamId: string, aboveNumber: number, timeoutMs: number): Promise<number>;
  /** Like `numberedAbove`, for the first notice heard after `time` (performance.now). */
  numberedAfter(streamId: string, time: number, timeoutMs: number): Promise<number>;
  stop(): void;
}

/** Listens to every sequencer's numbering notices and remembers, per stream, when each number was announced. */
export function watchNumbering(nc: NatsConnection): NumberingWatch {
  const heard = new Map<string, { n: number; at: number }[]>();
  const sub: Subscription = nc.subscribe(`${SEQUENCED_SUBJECT_PREFIX}.*`, {
    callback: (err, msg) => {
      if (err) return;
      const at = performance.now();
      const notice = SequencedNotice.safeParse(msg.json());
      if (!notice.success) return;
      for (const [, streamId, n] of notice.data) {
        const list = heard.get(streamId) ?? [];
        list.push({ n, at });
        heard.set(streamId, list);
      }
    },
  });
  const firstHeard = async (
    streamId: string,
    match: (h: { n: number; at: number }) => boolean,
    what: string,
    timeoutMs: number,
  ): Promise<number> => {
    const first = () => heard.get(streamId)?.find(match)?.at;
    await waitFor(() => first() !== undefined, { timeoutMs, intervalMs: 5, what: `${streamId} numbered ${what}` });
    return first() as number;
  };
  return {
    numberedAbove: (streamId, aboveNumber, timeoutMs) =>
      firstHeard(streamId, (h) => h.n > aboveNumber, `above ${aboveNumber}`, timeoutMs),
    numberedAfter: (streamId, time, timeoutMs) => firstHeard(streamId, (h) => h.at > time, "after", timeoutMs),
    stop: () => sub.unsubscribe(),
  };
}

/** The p-th percentile (0–100) of `values`, nearest rank: with few values, p95 is the largest. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}
