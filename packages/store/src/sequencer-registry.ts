import type { Redis } from "@heliograph/platform";
import { partitionEpochKey, partitionLeaseKey, sequencerInstancesKey } from "./keys.js";

/** A partition's lease as the sequencers left it in Redis (services/sequencer/src/lease.ts writes it). */
export interface PartitionLease {
  partition: number;
  /** The holder's instance id; undefined when the lease is free (expired or released). */
  owner: string | undefined;
  /** The latest epoch (0: never taken). */
  epoch: number;
  /** Milliseconds until the lease expires unless renewed; undefined when free. */
  expiresInMs: number | undefined;
}

/**
 * The leases of partitions 0..count-1. Lease and epoch keys may sit in different cluster slots, so
 * each is its own command (no pipeline across slots).
 */
export async function readPartitionLeases(redis: Redis, count: number): Promise<PartitionLease[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, partition): Promise<PartitionLease> => {
      const [owner, ttl, epoch] = await Promise.all([
        redis.get(partitionLeaseKey(partition)),
        redis.pttl(partitionLeaseKey(partition)),
        redis.get(partitionEpochKey(partition)),
      ]);
      return {
        partition,
        owner: owner ?? undefined,
        epoch: epoch === null ? 0 : Number(epoch),
        expiresInMs: owner === null || ttl < 0 ? undefined : ttl,
      };
    }),
  );
}

/** The sequencer instances in the registry with when each last announced itself (ms, Redis time). */
export async function readSequencerInstances(redis: Redis): Promise<{ id: string; lastSeenMs: number }[]> {
  const flat = await redis.zrange(sequencerInstancesKey, "0", "-1", "WITHSCORES");
  const instances: { id: string; lastSeenMs: number }[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2)
    instances.push({ id: flat[i] as string, lastSeenMs: Number(flat[i + 1]) });
  return instances;
}
