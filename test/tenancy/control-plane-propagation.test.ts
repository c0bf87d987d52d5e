import { mkdirSync, rmSync } from "node:fs";
import { adminClient } from "@heliograph/admin-client";
import type { PublisherCredentials, SubscriberCredentials } from "@heliograph/contracts";
import { DOCUMENT_TRADING_SIGNAL_BODY } from "@heliograph/contracts/fixtures";
import { type ServiceHandle, type Stack, startStack, waitFor } from "@heliograph/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The control plane lives in NATS KV and every gateway caches it, evicted by a KV watch: a change
// made through one instance's admin API applies on the others within one second (the deadline
// below is the requirement itself), and losing Redis loses no tenant.
let stack: Stack;
let ingest: ServiceHandle[];
let stream: ServiceHandle[];
let admin: ReturnType<typeof adminClient>;

const DEADLINE_MS = 1_000;

beforeAll(async () => {
  stack = await startStack({
    nats: { reuseEnv: false },
    redis: { reuseEnv: false },
    services: { "ingest-gateway": 2, "stream-gateway": 2 },
    // Entries may live a minute (the default): what makes a change apply within a second is the
    // watch, not an expiry.
    env: { CONTROL_PLANE_CACHE_MS: "60000", LOG_LEVEL: "warn" },
    stopGraceMs: 3_000,
  });
  ingest = stack.instances["ingest-gateway"];
  stream = stack.instances["stream-gateway"];
  admin = adminClient(stack.admin);
  const owner = await admin<PublisherCredentials>("POST", "/publishers", { id: "owner", name: "Owner" });
  await admin("POST", "/algorithms", { id: 1, name: "One", publisher_id: owner.id });
  await admin("POST", "/algorithms", { id: 2, name: "Two", publisher_id: owner.id });
}, 90_000);
afterAll(async () => {
  await stack?.stop();
});

const publish = (gateway: ServiceHandle, creds: { api_key: string; api_secret: string }, algorithmId = 1) =>
  fetch(`${gateway.url}/api/v1/create_trading_signal`, {
    method: "POST",
    headers: { "API-KEY": creds.api_key, "API-SECRET": creds.api_secret, "content-type": "application/json" },
    body: JSON.stringify({ ...DOCUMENT_TRADING_SIGNAL_BODY, algorithm_id: algorithmId }),
  }).then(async (res) => {
    await res.arrayBuffer();
    return res.status;
  });

const read = (gateway: ServiceHandle, token: string, streamId: string) =>
  fetch(`${gateway.url}/api/v1/stream/${streamId}/-1/10`, {
    headers: { authorization: `Bearer ${token}`, "x-long-poll": "0" },
  }).then(async (res) => {
    await res.arrayBuffer();
    return res.status;
  });

/** Polls until `condition` holds, failing at the deadline; returns how long it took. */
async function within(what: string, condition: () => Promise<boolean>): Promise<number> {
  const t0 = performance.now();
  await waitFor(condition, { timeoutMs: DEADLINE_MS, intervalMs: 10, what: `${what} within ${DEADLINE_MS} ms` });
  const took = performance.now() - t0;
  expect(took, what).toBeLessThan(DEADLINE_MS);
  return took;
}

describe("a change through one instance applies on every other instance within one second", () => {
  it("a rotated publisher secret: the old one is refused and the new one accepted on the other ingest gateway", async () => {
    const first = await admin<PublisherCredentials>("POST", "/publishers", { id: "rotating", name: "Rotating" });
    await admin("POST", "/algorithms", { id: 3, name: "Rotating's", publisher_id: first.id });
    // Both instances have the old credentials cached.
    for (const gateway of ingest) expect(await publish(gateway, first, 3)).toBe(202);

    const rotated = await admin<PublisherCredentials>("POST", "/publishers/rotating/rotate-secret");
    await within(
      "the old secret refused on ingest gateway #1",
      async () => (await publish(ingest[1] as ServiceHandle, first, 3)) === 401,
    );
    await within(
      "the new secret accepted on ingest gateway #1",
      async () => (await publish(ingest[1] as ServiceHandle, rotated, 3)) === 202,
    );
    expect(await publish(ingest[0] as ServiceHandle, first, 3)).toBe(401);
    expect(await publish(ingest[0] as ServiceHandle, rotated, 3)).toBe(202);
  });

  it("a deleted algorithm: its signals are refused on the other ingest gateway; its stream is still read", async () => {
    const creds = await admin<PublisherCredentials>("POST", "/publishers", { id: "deleting", name: "Deleting" });
    await admin("POST", "/algorithms", { id: 4, name: "Deleted", publisher_id: creds.id });
    // Both instances have the algorithm cached.
    for (const gateway of ingest) expect(await publish(gateway, creds, 4)).toBe(202);
    const sub = await admin<SubscriberCredentials>("POST", "/subscribers", {
      id: "history",
      name: "History",
      streams: ["algorithm-4"],
    });

    await admin("DELETE", "/algorithms/4");
    await within(
      "the deleted algorithm refused on ingest gateway #1",
      async () => (await publish(ingest[1] as ServiceHandle, creds, 4)) === 404,
    );
    expect(await publish(ingest[0] as ServiceHandle, creds, 4)).toBe(404);
    for (const gateway of stream) expect(await read(gateway, sub.token, "algorithm-4")).toBe(200);
  });

  it("a subscriber's changed entitlements: the stream taken away is refused and the one given is read, on both stream gateways", async () => {
    const sub = await admin<SubscriberCredentials>("POST", "/subscribers", {
      id: "moving",
      name: "Moving",
      streams: ["algorithm-1"],
    });
    for (const gateway of stream) {
      expect(await read(gateway, sub.token, "algorithm-1")).toBe(200);
      expect(await read(gateway, sub.token, "algorithm-2")).toBe(403);
    }

    await admin("PUT", "/subscribers/moving/streams", { streams: ["algorithm-2"] });
    for (const [i, gateway] of stream.entries()) {
      await within(
        `algorithm-1 refused on stream gateway #${i}`,
        async () => (await read(gateway, sub.token, "algorithm-1")) === 403,
      );
      await within(
        `algorithm-2 read on stream gateway #${i}`,
        async () => (await read(gateway, sub.token, "algorithm-2")) === 200,
      );
    }

    // Revoked altogether: nothing may be read anywhere.
    await admin("PUT", "/subscribers/moving/streams", { streams: [] });
    await within(
      "everything refused on stream gateway #1",
      async () => (await read(stream[1] as ServiceHandle, sub.token, "algorithm-2")) === 403,
    );
  });
});

describe("revocation and deletion apply on every instance within one second, held long polls included", () => {
  /** A long poll of 30 s on a stream with nothing new: its status, and when it ended. */
  const heldPoll = (gateway: ServiceHandle, token: string, streamId: string) => {
    const t0 = performance.now();
    return fetch(`${gateway.url}/api/v1/stream/${streamId}/1000000/10`, {
      headers: { authorization: `Bearer ${token}`, "x-long-poll": "30" },
    }).then(async (res) => ({ status: res.status, body: await res.text(), afterMs: performance.now() - t0 }));
  };
  const holding = async (gateway: ServiceHandle, subscriberId: string) =>
    waitFor(
      async () => {
        const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
        return /^heliograph_stream_waiters\{[^}]*\} [1-9]/m.test(metrics);
      },
      { timeoutMs: 5_000, what: `${subscriberId}'s poll held on ${gateway.url}` },
    );

  it("a revoked publisher's key is refused on both ingest gateways; a deleted one's too", async () => {
    const creds = await admin<PublisherCredentials>("POST", "/publishers", { id: "revoked-pub", name: "R" });
    await admin("POST", "/algorithms", { id: 5, name: "R's", publisher_id: creds.id });
    for (const gateway of ingest) expect(await publish(gateway, creds, 5)).toBe(202);
    await admin("POST", "/publishers/revoked-pub/revoke");
    for (const [i, gateway] of ingest.entries())
      await within(
        `the revoked key refused on ingest gateway #${i}`,
        async () => (await publish(gateway, creds, 5)) === 401,
      );

    const again = await admin<PublisherCredentials>("POST", "/publishers/revoked-pub/rotate-secret");
    for (const gateway of ingest)
      await within("the new key accepted", async () => (await publish(gateway, again, 5)) === 202);
    await admin("DELETE", "/publishers/revoked-pub");
    for (const [i, gateway] of ingest.entries())
      await within(
        `the deleted publisher's key refused on #${i}`,
        async () => (await publish(gateway, again, 5)) === 401,
      );
  });

  it.each([
    ["revoked", (id: string) => admin("POST", `/subscribers/${id}/revoke`)],
    ["given a new token", (id: string) => admin("POST", `/subscribers/${id}/rotate-token`)],
    ["deleted", (id: string) => admin("DELETE", `/subscribers/${id}`)],
  ])(
    "a subscriber %s: its held long poll ends 401 and its token is refused on both stream gateways",
    async (what, change) => {
      const id = `held-${what.split(" ")[0]}`;
      const sub = await admin<SubscriberCredentials>("POST", "/subscribers", {
        id,
        name: what,
        streams: ["algorithm-1"],
      });
      for (const gateway of stream) expect(await read(gateway, sub.token, "algorithm-1")).toBe(200);
      const held = heldPoll(stream[1] as ServiceHandle, sub.token, "algorithm-1");
      await holding(stream[1] as ServiceHandle, id);

      const t0 = performance.now();
      await change(id);
      const ended = await held;
      expect(ended.status, ended.body).toBe(401);
      // Ended by the change, not by its 30 s bound.
      expect(performance.now() - t0).toBeLessThan(DEADLINE_MS);
      for (const [i, gateway] of stream.entries())
        await within(
          `the old token refused on stream gateway #${i}`,
          async () => (await read(gateway, sub.token, "algorithm-1")) === 401,
        );
    },
  );
});

describe("tenants do not live in Redis", () => {
  it("after Redis restarts empty, a publisher and a subscriber no instance has cached still authenticate everywhere", async () => {
    // Created and never used, so no gateway holds them in its cache: each lookup reads the bucket.
    const publisher = await admin<PublisherCredentials>("POST", "/publishers", { id: "survivor", name: "Survivor" });
    await admin("POST", "/algorithms", { id: 4, name: "Survivor's", publisher_id: publisher.id });
    const subscriber = await admin<SubscriberCredentials>("POST", "/subscribers", {
      id: "survivor-sub",
      name: "Survivor",
      streams: ["algorithm-4"],
    });
    // Redis lost whole: stopped, its data (the AOF) deleted, started empty.
    await stack.redis.stop();
    rmSync(stack.redis.dir, { recursive: true, force: true });
    mkdirSync(stack.redis.dir, { recursive: true });
    await stack.redis.restart();

    // Within the gateways' Redis reconnection (a publish records its ingest id there, a read reads the log).
    for (const gateway of ingest)
      await waitFor(async () => (await publish(gateway, publisher, 4)) === 202, {
        timeoutMs: 10_000,
        what: `a publish with the survivor's credentials on ${gateway.url}`,
      });
    for (const gateway of stream)
      await waitFor(async () => (await read(gateway, subscriber.token, "algorithm-4")) === 200, {
        timeoutMs: 10_000,
        what: `a read with the survivor's token on ${gateway.url}`,
      });
    // What authentication refuses, it still refuses.
    expect(await publish(ingest[1] as ServiceHandle, { ...publisher, api_secret: "hgs_wrong" }, 4)).toBe(401);
    expect(await read(stream[1] as ServiceHandle, subscriber.token, "algorithm-1")).toBe(403);
    // And the admin API still lists them.
    const ids = (await admin<{ id: string }[]>("GET", "/publishers")).map((p) => p.id);
    expect(ids).toEqual(expect.arrayContaining(["owner", "rotating", "survivor"]));
    expect(await admin("GET", "/subscribers/survivor-sub")).toMatchObject({ streams: ["algorithm-4"] });
  });
});
