import type { Redis } from "@heliograph/platform";
import { partitionCountKey, partitionLeaseKey } from "./keys.js";

/**
 * A service was started with a `PARTITIONS` other than the one INGEST is laid out with, at a
 * moment when changing it would number streams out of order (docs/architecture.md, "Changing the
 * partition count").
 */
export class PartitionCountMismatchError extends Error {
  override readonly name = "PartitionCountMismatchError";
  constructor(
    readonly configured: number,
    readonly recorded: number,
    reason: string,
  ) {
    super(
      `PARTITIONS is ${configured} but INGEST is laid out with ${recorded} partitions (${reason}); ` +
        "change it only with INGEST drained and every sequencer stopped (deploy/README.md)",
    );
  }
}

async function recorded(redis: Redis): Promise<number | undefined> {
  const value = await redis.get(partitionCountKey);
  return value === null ? undefined : Number(value);
}

/**
 * An ingest gateway's check at start: refused when the sequencers recorded another count (a
 * gateway left on the old count would publish under the old layout). Nothing recorded yet passes.
 */
export async function assertPartitionCount(redis: Redis, configured: number): Promise<void> {
  const count = await recorded(redis);
  if (count !== undefined && count !== configured)
    throw new PartitionCountMismatchError(configured, count, "as the sequencers recorded it");
}

/**
 * A sequencer's check at start: records `configured` when nothing is recorded; when another count
 * is, replaces it only if the change is safe now, that is INGEST holds no message (`ingestMessages`)
 * and no partition lease of either layout is held (no sequencer of the old count still runs).
 * Answers the count replaced, if one was.
 */
export async function claimPartitionCount(
  redis: Redis,
  configured: number,
  ingestMessages: () => Promise<number>,
): Promise<{ replaced?: number }> {
  if ((await redis.set(partitionCountKey, String(configured), "NX")) === "OK") return {};
  const count = await recorded(redis);
  if (count === undefined || count === configured) return {};
  const pending = await ingestMessages();
  if (pending > 0) throw new PartitionCountMismatchError(configured, count, `INGEST holds ${pending} messages`);
  // One GET per lease, not an MGET: on Redis Cluster the lease keys live in different slots.
  const leases = Array.from({ length: Math.max(count, configured) }, (_, p) => redis.get(partitionLeaseKey(p)));
  const held = (await Promise.all(leases)).filter((owner) => owner !== null);
  if (held.length > 0)
    throw new PartitionCountMismatchError(configured, count, `${held.length} partition leases are still held`);
  await redis.set(partitionCountKey, String(configured));
  return { replaced: count };
}
