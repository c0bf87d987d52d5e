/**
 * Parked partitions (B5x2): the bench holds a partition's lease itself, under an owner id no
 * sequencer has, so the partition's INGEST messages wait unnumbered while the sequencers keep
 * running and keep the rest of their share. Stopping the sequencers instead would leave who takes
 * which partition to the race of their start; parking lets the bench choose the owners before a
 * drain: a park released (and announced on LEASE_FREED_SUBJECT, as a sequencer announces its own
 * releases) goes to an instance with room below its share, at once.
 *
 * An instance that owned a partition when it was parked loses it at its next renewal, the path of
 * a lease taken over by another instance: its worker stops, and the next owner's acquisition
 * increments the partition's epoch as any takeover does.
 */
import { LEASE_FREED_SUBJECT, type LeaseFreedNotice } from "@heliograph/contracts";
import { partitionLeaseKey } from "@heliograph/store";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Redis } from "ioredis";

/** The owner id of a parked lease: not `<host>-<pid>`, so no sequencer renews or releases it. */
export const PARKED_BY = "bench-parked";

// Only the bench's own park is deleted: a lease a sequencer took meanwhile stays its own (the
// sequencer's release script, with the bench as the owner).
const UNPARK = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

/**
 * Takes the leases of `partitions` from whoever holds them, for `ttlMs` at most (a bench that dies
 * leaves no partition parked for longer).
 */
export async function park(redis: Redis, partitions: number[], ttlMs: number): Promise<void> {
  const pipeline = redis.pipeline();
  for (const partition of partitions) pipeline.set(partitionLeaseKey(partition), PARKED_BY, "PX", ttlMs);
  await pipeline.exec();
}

/** Frees the parks of `partitions` still held and tells the sequencers; answers the ones freed. */
export async function unpark(redis: Redis, nc: NatsConnection, partitions: number[]): Promise<number[]> {
  const freed: number[] = [];
  for (const partition of partitions)
    if ((await redis.eval(UNPARK, 1, partitionLeaseKey(partition), PARKED_BY)) === 1) freed.push(partition);
  if (freed.length > 0) {
    nc.publish(LEASE_FREED_SUBJECT, JSON.stringify({ partitions: freed } satisfies LeaseFreedNotice));
    await nc.flush();
  }
  return freed;
}
