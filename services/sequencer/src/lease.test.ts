import { connectRedis, createLogger, type Redis } from "@heliograph/platform";
import { partitionEpochKey, partitionLeaseKey, sequencerInstancesKey } from "@heliograph/store";
import { type RedisServerHandle, startRedisServer, waitFor } from "@heliograph/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PartitionLeases } from "./lease.js";

const log = createLogger({ name: "test", level: "warn" });

describe("partition leases", () => {
  let server: RedisServerHandle;
  let redis: Redis;

  beforeAll(async () => {
    server = await startRedisServer();
    redis = await connectRedis(server.url, log, "test");
  });
  afterAll(async () => {
    await redis?.quit();
    await server?.stop();
  });

  it("gives a free partition to one owner, with an epoch that grows on every acquisition", async () => {
    const a = new PartitionLeases(redis, "a", 10_000);
    const b = new PartitionLeases(redis, "b", 10_000);
    const epochA = await a.acquire(3);
    expect(epochA).toBe(1);
    expect(await b.acquire(3)).toBeUndefined();
    expect(await redis.get(partitionLeaseKey(3))).toBe("a");
    expect(await b.renew(3)).toBe(false);
    expect(await b.release(3)).toBe(false);
    expect(await a.renew(3)).toBe(true);
    expect(await a.release(3)).toBe(true);
    expect(await b.acquire(3)).toBe(2);
    expect(await a.currentEpoch(3)).toBe(2);
    expect(await redis.get(partitionEpochKey(3))).toBe("2");
  });

  it("expires when not renewed, so another owner takes over", async () => {
    const a = new PartitionLeases(redis, "a", 300);
    const b = new PartitionLeases(redis, "b", 300);
    expect(await a.acquire(5)).toBeDefined();
    const epoch = await waitFor(() => b.acquire(5), { timeoutMs: 3_000, what: "lease expiry" });
    expect(epoch).toBe(2);
    expect(await a.renew(5)).toBe(false);
  });

  it("counts the instances seen within the window, forgets the silent ones, and lets one leave at once", async () => {
    const a = new PartitionLeases(redis, "live-a", 300);
    const b = new PartitionLeases(redis, "live-b", 300);
    const c = new PartitionLeases(redis, "live-c", 300);
    expect(await a.heartbeat(300)).toEqual({ live: 1, nextForgetMs: undefined });
    expect((await b.heartbeat(300)).live).toBe(2);
    expect((await c.heartbeat(300)).live).toBe(3);
    await c.deregister();
    const { live, nextForgetMs } = await a.heartbeat(300);
    expect(live).toBe(2);
    // b was seen a moment ago: it drops out of the count within the window, not before.
    expect(nextForgetMs).toBeGreaterThan(0);
    expect(nextForgetMs).toBeLessThanOrEqual(300);
    // b falls silent: once its last heartbeat is older than the window, a counts itself alone.
    await waitFor(async () => (await a.heartbeat(300)).live === 1, { timeoutMs: 3_000, what: "b forgotten" });
    expect(await redis.zrange(sequencerInstancesKey, "0", "-1")).toEqual(["live-a"]);
  });
});
