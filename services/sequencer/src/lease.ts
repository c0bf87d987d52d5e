import { defineRedisScripts, type Redis } from "@heliograph/platform";
import { partitionEpochKey, partitionLeaseKey, sequencerInstancesKey } from "@heliograph/store";
import { StaleEpochError } from "./sequence-step.js";

// Compare-and-act: only the owner named in the lease may extend or drop it.
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;
// Registers ARGV[1] as seen now, forgets instances not seen for ARGV[2] ms and counts the rest; also
// answers in how many ms the next of the others will be forgotten (-1: none), so a survivor can
// look again right then. The time is Redis' own, so instances on machines with skewed clocks still
// agree on who is live.
const HEARTBEAT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], string.format('%d', now), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('(%d', now - window))
redis.call('PEXPIRE', KEYS[1], window)
local oldest = redis.call('ZRANGE', KEYS[1], 0, 1, 'WITHSCORES')
local next_forget = -1
for i = 1, #oldest, 2 do
  if oldest[i] ~= ARGV[1] and next_forget < 0 then next_forget = tonumber(oldest[i + 1]) + window - now end
end
return { redis.call('ZCARD', KEYS[1]), next_forget }`;

type LeaseCommands = {
  heliographLeaseRenew(key: string, owner: string, ttlMs: number): Promise<number>;
  heliographLeaseRelease(key: string, owner: string): Promise<number>;
  heliographSequencerHeartbeat(key: string, owner: string, liveWindowMs: number): Promise<[number, number]>;
};
function commands(redis: Redis): LeaseCommands {
  return defineRedisScripts<LeaseCommands>(redis, {
    heliographLeaseRenew: { numberOfKeys: 1, lua: RENEW },
    heliographLeaseRelease: { numberOfKeys: 1, lua: RELEASE },
    heliographSequencerHeartbeat: { numberOfKeys: 1, lua: HEARTBEAT },
  });
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

  /**
   * Records this instance as live in `sequencerInstancesKey` and answers how many instances were
   * seen within `liveWindowMs` (this one included): partitions are shared among that many. Also in
   * how many ms the longest-silent other instance drops out of that count (undefined: no other).
   */
  async heartbeat(liveWindowMs: number): Promise<{ live: number; nextForgetMs: number | undefined }> {
    const [live, nextForget] = await commands(this.redis).heliographSequencerHeartbeat(
      sequencerInstancesKey,
      this.ownerId,
      liveWindowMs,
    );
    return { live: Number(live), nextForgetMs: Number(nextForget) < 0 ? undefined : Number(nextForget) };
  }

  /** Leaves the live set at once (a graceful stop), so the others take over without waiting it out. */
  async deregister(): Promise<void> {
    await this.redis.zrem(sequencerInstancesKey, this.ownerId);
  }

  /** The partition's latest epoch: a holder whose epoch differs has been replaced. */
  async currentEpoch(partition: number): Promise<number> {
    const value = await this.redis.get(partitionEpochKey(partition));
    return value === null ? 0 : Number(value);
  }
}

/** This instance's epoch of a partition is no longer the partition's: another instance took it over. */
export class LeaseLostError extends Error {
  override readonly name = "LeaseLostError";
}

/** The partition belongs to a newer epoch: no retry can help, the worker must stop writing. */
export const isLeaseGone = (err: unknown): err is Error =>
  err instanceof StaleEpochError || err instanceof LeaseLostError;
