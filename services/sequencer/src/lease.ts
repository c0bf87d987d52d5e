import { partitionEpochKey, partitionLeaseKey } from "@heliograph/store";
import type { Redis } from "ioredis";

// Compare-and-act: only the owner named in the lease may extend or drop it.
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

type LeaseCommands = {
  heliographLeaseRenew(key: string, owner: string, ttlMs: number): Promise<number>;
  heliographLeaseRelease(key: string, owner: string): Promise<number>;
};
const defined = new WeakSet<Redis>();

function commands(redis: Redis): LeaseCommands {
  if (!defined.has(redis)) {
    redis.defineCommand("heliographLeaseRenew", { numberOfKeys: 1, lua: RENEW });
    redis.defineCommand("heliographLeaseRelease", { numberOfKeys: 1, lua: RELEASE });
    defined.add(redis);
  }
  return redis as unknown as LeaseCommands;
}

/**
 * Partition leases in Redis: `partitionLeaseKey(p)` holds the owner's id with an expiry, and every
 * acquisition increments `partitionEpochKey(p)`, the fencing token every numbering step carries.
 * The two keys are separate commands (not one script) so they may live in different cluster slots.
 */
export class PartitionLeases {
  constructor(
    private readonly redis: Redis,
    readonly ownerId: string,
    readonly ttlMs: number,
  ) {
    commands(redis);
  }

  /** The new epoch when the partition was free and is now ours, otherwise undefined. */
  async acquire(partition: number): Promise<number | undefined> {
    const set = await this.redis.set(partitionLeaseKey(partition), this.ownerId, "PX", this.ttlMs, "NX");
    if (set !== "OK") return undefined;
    try {
      return await this.redis.incr(partitionEpochKey(partition));
    } catch (err) {
      // Without an epoch the lease is useless; free it (or let it expire) and try again later.
      await this.release(partition).catch(() => {});
      throw err;
    }
  }

  /** True while the lease is still ours (its expiry is pushed out); false once it is lost. */
  async renew(partition: number): Promise<boolean> {
    return (
      (await commands(this.redis).heliographLeaseRenew(partitionLeaseKey(partition), this.ownerId, this.ttlMs)) === 1
    );
  }

  async release(partition: number): Promise<boolean> {
    return (await commands(this.redis).heliographLeaseRelease(partitionLeaseKey(partition), this.ownerId)) === 1;
  }

  /** The partition's latest epoch: a holder whose epoch differs has been replaced. */
  async currentEpoch(partition: number): Promise<number> {
    const value = await this.redis.get(partitionEpochKey(partition));
    return value === null ? 0 : Number(value);
  }
}
