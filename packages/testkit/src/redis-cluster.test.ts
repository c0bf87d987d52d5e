import { connectRedis, createLogger, type Redis as HeliographRedis, isRedisCluster } from "@heliograph/platform";
import { Cluster, Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RedisClusterHandle, startRedisCluster } from "./redis-cluster.js";
import { waitFor } from "./wait-for.js";

// The harness's Redis Cluster is real: 3 masters and 3 replicas joined by redis-cli, a Lua script
// over keys of one hash tag runs on the master of that slot, and a master killed with -9 is
// replaced by its replica.
let cluster: RedisClusterHandle;
let client: Cluster;

beforeAll(async () => {
  cluster = await startRedisCluster();
  client = new Cluster(
    cluster.nodes.map((n) => ({ host: "127.0.0.1", port: n.port })),
    { clusterRetryStrategy: () => 100, redisOptions: { maxRetriesPerRequest: 3 } },
  );
  client.on("error", () => {});
}, 60_000);
afterAll(async () => {
  client?.disconnect();
  await cluster?.stop();
});

describe("startRedisCluster", () => {
  it("runs 6 nodes, 3 of them masters, every slot served", async () => {
    expect(cluster.nodes).toHaveLength(6);
    // Masters serving slots: a node added as a replica may still be listed as an empty master
    // for a moment after the create, until the cluster's gossip carries its role.
    const masters = (await cluster.cli("CLUSTER", "NODES")).filter(
      (line) => line.split(" ")[2]?.includes("master") && line.split(" ").length > 8,
    );
    expect(masters).toHaveLength(3);
    expect(await cluster.cli("CLUSTER", "INFO")).toContain("cluster_slots_ok:16384");
    // Each master has its replica (gossip may take a moment to show the roles).
    for (const key of ["{a}", "{b}", "{c}"]) {
      const master = await cluster.masterOf(key);
      await waitFor(() => cluster.hasLiveReplica(master), { what: `a replica of the master of ${key}` });
    }
  });

  it("runs a script over two keys of one hash tag, and refuses keys of two slots", async () => {
    const script = "redis.call('SET', KEYS[1], ARGV[1]); return redis.call('INCR', KEYS[2])";
    expect(await client.eval(script, 2, "{s1}:a", "{s1}:b", "x")).toBe(1);
    expect(await client.get("{s1}:a")).toBe("x");
    await expect(client.eval(script, 2, "{s1}:a", "{s2}:b", "x")).rejects.toThrow(/CROSSSLOT/);
  });

  // Here rather than beside connectRedis: this file's cluster is the one the test kit starts, and a
  // second one for one check would cost CI a cluster's start.
  it("connectRedis: one redis-cluster:// URL of one node gives a cluster client that reaches every master", async () => {
    const [seed] = cluster.nodes;
    let redis: HeliographRedis | undefined;
    try {
      redis = await connectRedis(
        `redis-cluster://127.0.0.1:${seed?.port}`,
        createLogger({ name: "one-seed", level: "silent" }),
        "one-seed",
      );
      expect(isRedisCluster(redis)).toBe(true);
      // Keys of many slots: each write lands on its slot's master, reached through the slot map
      // the one seed gave (a single-node client would get MOVED for most of them).
      const keys = Array.from({ length: 30 }, (_, i) => `{seed-${i}}:k`);
      for (const key of keys) await redis.set(key, key);
      expect(await Promise.all(keys.map((k) => (redis as HeliographRedis).get(k)))).toEqual(keys);
      // The masters that served them, by the slot map the client learned from its one seed.
      const client = redis as Cluster;
      const slots = await Promise.all(keys.map((k) => client.cluster("KEYSLOT", k) as Promise<number>));
      const masters = new Set(slots.map((slot) => client.slots[slot]?.[0]));
      expect(masters.size).toBe(3);
      expect(client.nodes("master")).toHaveLength(3);
    } finally {
      redis?.disconnect();
    }
  });

  it("promotes a killed master's replica; the slot is served again", async () => {
    const master = await cluster.masterOf("{failover}:k");
    // Written on the slot's master itself, and WAIT asked there: replication is asynchronous, and a
    // keyless WAIT through the cluster client lands on any master, so it proved nothing about this
    // key (CI once killed the master before its replica had the write). This test is about the
    // promotion, not about losing an unreplicated write (the sequencer's repair covers that).
    const direct = new Redis({ host: "127.0.0.1", port: master.port, lazyConnect: true });
    try {
      await direct.set("{failover}:k", "before");
      await waitFor(async () => (await direct.wait(1, 1000)) === 1, { what: "the replica to have it" });
    } finally {
      direct.disconnect();
    }
    await master.kill("SIGKILL");
    await cluster.waitHealthy(20_000);
    const promoted = await cluster.masterOf("{failover}:k");
    expect(promoted.port).not.toBe(master.port);
    // Its replica became the master, and no replica follows it now.
    expect(await cluster.hasLiveReplica(promoted)).toBe(false);
    // Read with redis-cli (following MOVED) from the nodes now serving the slot: this is about the
    // harness's cluster; how fast a client notices the new slot map is the client's own setting.
    await waitFor(async () => (await cluster.cli("GET", "{failover}:k"))[0] === "before", {
      timeoutMs: 20_000,
      what: "the key read from the promoted replica",
    });
  }, 60_000);
});
