import { HeliographError } from "@heliograph/contracts";
import {
  CONTROL_BUCKET,
  type ControlCache,
  ControlPlane,
  controlKeys,
  openControlBucket,
  secretHash,
  startControlCache,
} from "@heliograph/store";
import { type NatsServerHandle, startNatsServer, waitFor } from "@heliograph/testkit";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

// The control plane in NATS KV (packages/store/src/control-plane.ts), in-process against a real
// nats-server: uniqueness by create and compare-and-set under concurrent writers, rotation,
// entitlements, the orphans a crash between two writes can leave, and the watch-evicted cache.
let nats: NatsServerHandle;
let ncA: NatsConnection;
let ncB: NatsConnection;
type Bucket = Awaited<ReturnType<typeof openControlBucket>>;
let bucketA: Bucket;
let bucketB: Bucket;
/** Two writers on two connections, as two admin API instances would be. */
let cpA: ControlPlane;
let cpB: ControlPlane;

beforeAll(async () => {
  nats = await startNatsServer({ reuseEnv: false });
  ncA = await connect({ ...nats.connectOptions(), maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  ncB = await connect({ ...nats.connectOptions(), maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  // Opened concurrently, as services starting together do: one bucket, no error.
  [bucketA, bucketB] = await Promise.all([
    openControlBucket(ncA, { replicas: 1 }),
    openControlBucket(ncB, { replicas: 1 }),
  ]);
  cpA = new ControlPlane(bucketA);
  cpB = new ControlPlane(bucketB);
});
afterAll(async () => {
  await ncA?.close();
  await ncB?.close();
  await nats?.stop();
});

const codeOf = async (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => "ok",
    (err: unknown) => (err instanceof HeliographError ? err.code : `not a HeliographError: ${String(err)}`),
  );

async function keysOf(filter: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const key of await bucketA.keys(filter)) keys.push(key);
  return keys.sort();
}

describe("the bucket", () => {
  it("is heliograph-control: file storage, history 1, the configured replicas, no direct gets", async () => {
    const jsm = await jetstreamManager(ncA);
    const { config } = await jsm.streams.info(`KV_${CONTROL_BUCKET}`);
    expect(config).toMatchObject({
      storage: "file",
      max_msgs_per_subject: 1,
      num_replicas: 1,
      allow_direct: false,
    });
  });
});

describe("uniqueness: create and compare-and-set, with concurrent writers", () => {
  it("ten concurrent creates of one publisher id: one wins, the others get PUBLISHER_EXISTS and leave no key behind", async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => (i % 2 ? cpA : cpB).createPublisher({ id: "race-pub", name: `Racer ${i}` })),
    );
    const won = results.filter((r) => r.status === "fulfilled");
    expect(won).toHaveLength(1);
    for (const r of results)
      if (r.status === "rejected") expect((r.reason as HeliographError).code).toBe("PUBLISHER_EXISTS");
    const winner = (won[0] as PromiseFulfilledResult<Awaited<ReturnType<ControlPlane["createPublisher"]>>>).value;
    expect(await cpB.authenticatePublisher(winner.api_key, winner.api_secret)).toBe("race-pub");
    // The losers removed the API-key index they wrote first: one index key, the winner's.
    const indexed = await Promise.all(
      (await keysOf("api-key.*")).map(async (key) => (await bucketA.get(key))?.string()),
    );
    expect(indexed.filter((id) => id === "race-pub")).toHaveLength(1);
    expect(await codeOf(cpA.createPublisher({ id: "race-pub", name: "Later" }))).toBe("PUBLISHER_EXISTS");
  });

  it("concurrent creates of one subscriber, idea channel, resource id and algorithm id: one of each wins", async () => {
    await cpA.createPublisher({ id: "owner", name: "Owner" });
    const race = async (create: (cp: ControlPlane) => Promise<unknown>, code: string) => {
      const codes = await Promise.all(Array.from({ length: 8 }, (_, i) => codeOf(create(i % 2 ? cpA : cpB))));
      expect(codes.filter((c) => c === "ok")).toHaveLength(1);
      expect(codes.filter((c) => c !== "ok")).toEqual(Array(7).fill(code));
    };
    await race((cp) => cp.createSubscriber({ id: "race-sub", name: "S", streams: [] }), "SUBSCRIBER_EXISTS");
    await race(
      (cp) => cp.createIdeaChannel({ id: "race-chan", title: "C", publisher_id: "owner" }),
      "IDEA_CHANNEL_EXISTS",
    );
    await race(
      (cp) =>
        cp.createResource({ id: 500, title: "R", key_value_type_pairs: { Symbol: "STRING" }, publisher_id: "owner" }),
      "RESOURCE_EXISTS",
    );
    await race((cp) => cp.createAlgorithm({ id: 500, name: "A", publisher_id: "owner" }), "ALGORITHM_EXISTS");
    // The token index of the losing subscribers is gone too: one token key names race-sub.
    const named = await Promise.all((await keysOf("token.*")).map(async (k) => (await bucketA.get(k))?.string()));
    expect(named.filter((id) => id === "race-sub")).toHaveLength(1);
  });

  it("ids handed out concurrently from the counter are all different, and skip an id taken explicitly", async () => {
    await cpA.createAlgorithm({ id: 3, name: "Taken first", publisher_id: "owner" });
    const created = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 ? cpA : cpB).createAlgorithm({ name: `Auto ${i}`, publisher_id: "owner" }),
      ),
    );
    const ids = created.map((a) => a.id);
    expect(new Set(ids).size).toBe(20);
    expect(ids).not.toContain(3);
    for (const a of created) expect(await cpB.getAlgorithm(a.id)).toEqual(a);
    const resources = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        (i % 2 ? cpA : cpB).createResource({
          title: `R${i}`,
          key_value_type_pairs: { X: "NUMBER" },
          publisher_id: "owner",
        }),
      ),
    );
    expect(new Set(resources.map((r) => r.id)).size).toBe(6);
    expect((await cpA.listResources()).map((r) => r.id)).toEqual(expect.arrayContaining(resources.map((r) => r.id)));
  });

  it("refuses what names an unknown publisher, and finds nothing under ids that cannot be a key", async () => {
    expect(await codeOf(cpA.createAlgorithm({ name: "x", publisher_id: "nobody" }))).toBe("PUBLISHER_NOT_FOUND");
    expect(await cpA.getPublisher("a.b")).toBeUndefined();
    expect(await cpA.getSubscriber("no such/one")).toBeUndefined();
    expect(await codeOf(cpA.authenticatePublisher("not a key!", "x"))).toBe("AUTH_INVALID");
  });
});

describe("rotation", () => {
  it("the new key and secret work, the old ones are refused, and the old index key is gone", async () => {
    const first = await cpA.createPublisher({ id: "rotating", name: "Rotating" });
    const next = await cpB.rotatePublisherSecret("rotating");
    expect(next.api_key).not.toBe(first.api_key);
    expect(await cpA.authenticatePublisher(next.api_key, next.api_secret)).toBe("rotating");
    expect(await codeOf(cpA.authenticatePublisher(first.api_key, first.api_secret))).toBe("AUTH_INVALID");
    expect(await codeOf(cpA.authenticatePublisher(next.api_key, first.api_secret))).toBe("AUTH_INVALID");
    expect(await bucketA.get(controlKeys.apiKey(first.api_key))).toMatchObject({ operation: "DEL" });
    expect(await codeOf(cpA.rotatePublisherSecret("nobody"))).toBe("PUBLISHER_NOT_FOUND");
  });

  it("five concurrent rotations all answer, and exactly the last one stored authenticates", async () => {
    await cpA.createPublisher({ id: "rotated-often", name: "Often" });
    const all = await Promise.all(
      Array.from({ length: 5 }, (_, i) => (i % 2 ? cpA : cpB).rotatePublisherSecret("rotated-often")),
    );
    const working = await Promise.all(
      all.map(async (c) => (await codeOf(cpA.authenticatePublisher(c.api_key, c.api_secret))) === "ok"),
    );
    expect(working.filter(Boolean)).toHaveLength(1);
    expect(all[working.indexOf(true)]?.api_key).toBe((await cpA.getPublisher("rotated-often"))?.api_key);
  });
});

describe("what a crash between two writes leaves authenticates nothing", () => {
  it("an API-key index written before its record (the create crashed) names no publisher; the id can still be created", async () => {
    await bucketA.create(controlKeys.apiKey("hgk_orphan0000000000000000"), "crashed-pub");
    expect(await codeOf(cpA.authenticatePublisher("hgk_orphan0000000000000000", "anything"))).toBe("AUTH_INVALID");
    const created = await cpA.createPublisher({ id: "crashed-pub", name: "Created after the crash" });
    expect(await cpA.authenticatePublisher(created.api_key, created.api_secret)).toBe("crashed-pub");
    // The orphan now points at a real publisher, whose record names another key: still refused.
    expect(await codeOf(cpA.authenticatePublisher("hgk_orphan0000000000000000", created.api_secret))).toBe(
      "AUTH_INVALID",
    );
  });

  it("an old API-key index a rotation could not delete is refused with the old secret", async () => {
    const first = await cpA.createPublisher({ id: "left-behind", name: "Left behind" });
    await cpA.rotatePublisherSecret("left-behind");
    await bucketA.put(controlKeys.apiKey(first.api_key), "left-behind");
    expect(await codeOf(cpA.authenticatePublisher(first.api_key, first.api_secret))).toBe("AUTH_INVALID");
  });

  it("a token index without its subscriber record is refused", async () => {
    const token = "hgt_never_stored_token_000000000000000000";
    await bucketA.create(controlKeys.tokenHash(secretHash(token)), "ghost-sub");
    expect(await codeOf(cpA.authenticateSubscriber(`Bearer ${token}`))).toBe("AUTH_INVALID");
  });
});

describe("subscribers and entitlements", () => {
  it("authenticates by token, replaces entitlements, and revokes them all with []", async () => {
    const sub = await cpA.createSubscriber({ id: "reader", name: "Reader", streams: ["algorithm-1", "algorithm-1"] });
    expect(sub.streams).toEqual(["algorithm-1"]);
    expect(await cpB.authenticateSubscriber(`Bearer ${sub.token}`)).toBe("reader");
    expect(await codeOf(cpB.authenticateSubscriber(`Bearer ${sub.token}x`))).toBe("AUTH_INVALID");
    expect(await cpB.isEntitled("reader", "algorithm-1")).toBe(true);
    expect(await cpB.setEntitlements("reader", ["resource-1", "algorithm-2"])).toMatchObject({
      streams: ["algorithm-2", "resource-1"],
    });
    expect(await cpA.isEntitled("reader", "algorithm-1")).toBe(false);
    expect(await cpA.isEntitled("reader", "resource-1")).toBe(true);
    await cpA.setEntitlements("reader", []);
    expect(await cpB.isEntitled("reader", "resource-1")).toBe(false);
    expect(await cpB.getSubscriber("reader")).toMatchObject({ streams: [] });
    // The token and the record are untouched by entitlement changes.
    expect(await cpB.authenticateSubscriber(`Bearer ${sub.token}`)).toBe("reader");
    expect(await codeOf(cpA.setEntitlements("nobody", []))).toBe("SUBSCRIBER_NOT_FOUND");
  });

  it("concurrent entitlement changes are applied whole, one after another (compare-and-set, no mixed result)", async () => {
    await cpA.createSubscriber({ id: "contended", name: "Contended", streams: [] });
    const sets = Array.from({ length: 6 }, (_, i) => [`algorithm-${i}`, `resource-${i}`]);
    await Promise.all(sets.map((streams, i) => (i % 2 ? cpA : cpB).setEntitlements("contended", streams)));
    const final = (await cpA.getSubscriber("contended"))?.streams;
    expect(sets.map((s) => [...s].sort())).toContainEqual(final);
  });
});

describe("the cache, evicted by the KV watch", () => {
  let cache: ControlCache;
  let cached: ControlPlane;
  let bucket: Bucket;
  beforeAll(async () => {
    // A third connection: the reading service's own.
    const nc = await connect({ ...nats.connectOptions(), maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    bucket = await openControlBucket(nc, { replicas: 1 });
    cache = await startControlCache(bucket, nc, { maxAgeMs: 600_000 });
    cached = new ControlPlane(bucket, cache);
    return async () => {
      await cache.close();
      await nc.close();
    };
  });

  it("serves from memory, and a change written elsewhere (rotation, entitlements) is seen within 1 s", async () => {
    const pub = await cpA.createPublisher({ id: "cached-pub", name: "Cached" });
    await cpA.createSubscriber({ id: "cached-sub", name: "Cached", streams: ["algorithm-1"] });
    // The publisher's authentication (one entry, by credentials digest) and the subscriber's
    // record, held once the creations' own changes have come through the watch (an authentication
    // that overlaps a change of its keys is answered but not remembered).
    const before = cache.size;
    await waitFor(
      async () => {
        expect(await cached.authenticatePublisher(pub.api_key, pub.api_secret)).toBe("cached-pub");
        expect(await cached.isEntitled("cached-sub", "algorithm-1")).toBe(true);
        return cache.size >= before + 2;
      },
      { timeoutMs: 1_000, what: "both held by the cache" },
    );

    const rotated = await cpB.rotatePublisherSecret("cached-pub");
    await cpB.setEntitlements("cached-sub", ["algorithm-2"]);
    const t0 = performance.now();
    await waitFor(
      async () => (await codeOf(cached.authenticatePublisher(pub.api_key, pub.api_secret))) === "AUTH_INVALID",
      {
        timeoutMs: 1_000,
        intervalMs: 10,
        what: "the old secret refused by the cached control plane",
      },
    );
    await waitFor(async () => !(await cached.isEntitled("cached-sub", "algorithm-1")), {
      timeoutMs: 1_000,
      intervalMs: 10,
      what: "the entitlement change seen by the cached control plane",
    });
    expect(performance.now() - t0).toBeLessThan(1_000);
    expect(await cached.authenticatePublisher(rotated.api_key, rotated.api_secret)).toBe("cached-pub");
    expect(await cached.isEntitled("cached-sub", "algorithm-2")).toBe(true);
  });

  it("an API key's existence does not show: without its secret, a known key (used or not) and an unknown one cost the same two bucket reads; with it, none", async () => {
    const pub = await cpA.createPublisher({ id: "timing-pub", name: "Timing" });
    const reads = vi.spyOn(bucket, "get");
    const readsOf = async (apiKey: string, apiSecret: string) => {
      reads.mockClear();
      const code = await codeOf(cached.authenticatePublisher(apiKey, apiSecret));
      return { code, reads: reads.mock.calls.length };
    };
    const wrong = `${pub.api_secret.slice(0, -1)}x`;
    const unknownKey = "hgk_0123456789abcdef01234567";
    try {
      const before = [await readsOf(pub.api_key, wrong), await readsOf(unknownKey, wrong)];
      expect(await readsOf(pub.api_key, pub.api_secret)).toEqual({ code: "ok", reads: 2 });
      // The right secret is now answered from memory; nothing else is.
      expect(await readsOf(pub.api_key, pub.api_secret)).toEqual({ code: "ok", reads: 0 });
      const after = [await readsOf(pub.api_key, wrong), await readsOf(unknownKey, wrong)];
      expect([...before, ...after]).toEqual(Array(4).fill({ code: "AUTH_INVALID", reads: 2 }));
    } finally {
      reads.mockRestore();
    }
  });

  it("caches no miss: a thousand unknown tokens and keys leave its size as it was", async () => {
    const before = cache.size;
    for (let i = 0; i < 500; i++) {
      await codeOf(cached.authenticateSubscriber(`Bearer hgt_unknown_${i}`));
      await codeOf(cached.authenticatePublisher(`hgk_unknown_${i}`, "x"));
    }
    expect(cache.size).toBe(before);
  });

  it("holds at most maxEntries", async () => {
    const nc = await connect(nats.connectOptions());
    const bucket = await openControlBucket(nc, { replicas: 1 });
    const small = await startControlCache(bucket, nc, { maxAgeMs: 600_000, maxEntries: 3 });
    try {
      const plane = new ControlPlane(bucket, small);
      for (const id of ["owner", "race-pub", "rotating", "crashed-pub", "left-behind"]) {
        expect(await plane.getPublisher(id)).toBeDefined();
        expect(small.size).toBeLessThanOrEqual(3);
      }
      expect(small.size).toBe(3);
    } finally {
      await small.close();
      await nc.close();
    }
  });

  it("a NATS reconnect drops the cache and rebuilds the watch; changes after it are still seen within 1 s", async () => {
    await cpA.createSubscriber({ id: "after-reconnect", name: "R", streams: ["algorithm-1"] });
    expect(await cached.isEntitled("after-reconnect", "algorithm-1")).toBe(true);
    const rewatches = cache.rewatches;
    await nats.stop();
    await nats.restart();
    await waitFor(() => cache.rewatches > rewatches && cache.live, {
      timeoutMs: 15_000,
      what: "the cache to drop and watch again after NATS came back",
    });
    expect(cache.size).toBe(0);
    // Reads again (the tenants outlived the restart: file storage), cached again, and evicted again.
    expect(await cached.isEntitled("after-reconnect", "algorithm-1")).toBe(true);
    await waitFor(
      async () => {
        try {
          await cpB.setEntitlements("after-reconnect", []);
          return true;
        } catch {
          return false; // cpB's connection may still be reconnecting
        }
      },
      { timeoutMs: 10_000, what: "the writer reconnected" },
    );
    const t0 = performance.now();
    await waitFor(async () => !(await cached.isEntitled("after-reconnect", "algorithm-1")), {
      timeoutMs: 1_000,
      intervalMs: 10,
      what: "the change after the reconnect seen by the cached control plane",
    });
    expect(performance.now() - t0).toBeLessThan(1_000);
  });
});
