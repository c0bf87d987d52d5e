import { createHash } from "node:crypto";
import {
  canonicalSignal,
  ErrorBody,
  IDEMPOTENT_REPLAY_HEADER,
  INGEST_STREAM,
  INGEST_SUBJECTS,
  type IngestMessage,
  PublishAccepted,
  TradingSignalRequest,
} from "@heliograph/contracts";
import { DOCUMENT_TRADING_SIGNAL_BODY } from "@heliograph/contracts/fixtures";
import { connectNats, connectRedis, createLogger, ensureStreams, type HttpApp } from "@heliograph/platform";
import { idempotencyKey } from "@heliograph/store";
import { testsOnRedisCluster, waitFor } from "@heliograph/testkit";
import type { LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDelayedProxy } from "../test/delayed-proxy.js";
import { startTestGateway, type TestGateway } from "../test/test-gateway.js";
import { buildApp } from "./app.js";
import { ingestIdFor } from "./idempotency.js";

const sha256hex = (text: string) => createHash("sha256").update(text).digest("hex");

/**
 * Promise 3 with the key reserved before the publish: whatever the interleaving, a 2xx to a keyed
 * publish describes the event INGEST holds for its ingest id, never another body's.
 */
let gw: TestGateway;
/**
 * A second gateway instance, as behind a load balancer, whose Redis is 400 ms away: its writes
 * land well after its publishes, the window in which another instance can see the key unused.
 */
let slow: { app: HttpApp; stop(): Promise<void> };
beforeAll(async () => {
  if (testsOnRedisCluster) return;
  gw = await startTestGateway();
  const log = createLogger({ name: "slow-gateway", level: "silent" });
  const target = new URL(gw.redisServer.url);
  const proxy = await startDelayedProxy({ host: target.hostname, port: Number(target.port) }, 400);
  const nc = await connectNats(gw.natsServer, log, "slow-gateway");
  const redis = await connectRedis(proxy.url("redis"), log, "slow-gateway");
  const { app } = await buildApp({ log, nc, redis, config: gw.config });
  slow = {
    app,
    async stop() {
      await app.close();
      await nc.close();
      redis.disconnect();
      await proxy.stop();
    },
  };
});
afterAll(async () => {
  await slow?.stop();
  await gw?.stop();
});

const signal = (ticker: string): TradingSignalRequest => ({
  ...TradingSignalRequest.parse(DOCUMENT_TRADING_SIGNAL_BODY),
  ticker_symbol: ticker,
  timestamp: "2026-01-02T03:04:05.000Z",
});

const post = (body: TradingSignalRequest, key: string, app: HttpApp = gw.app) =>
  app.inject({
    method: "POST",
    url: "/api/v1/create_trading_signal",
    headers: { "content-type": "application/json", ...gw.headers(), "Idempotency-Key": key },
    payload: JSON.stringify(body),
  });

/** Every message INGEST holds, by ingest id (each ingest id must appear once). */
async function ingestById(): Promise<Map<string, IngestMessage[]>> {
  const { state } = await gw.jsm.streams.info(INGEST_STREAM);
  const byId = new Map<string, IngestMessage[]>();
  for (let seq = state.first_seq; seq <= state.last_seq && state.messages > 0; seq++) {
    const stored = await gw.jsm.streams.getMessage(INGEST_STREAM, { seq });
    if (!stored) continue;
    const message = stored.json<IngestMessage>();
    byId.set(message.ingest_id, [...(byId.get(message.ingest_id) ?? []), message]);
  }
  return byId;
}

/** The 2xx answered `body` under `key`: INGEST holds exactly that signal for its ingest id, once. */
function expectStoredAs(held: Map<string, IngestMessage[]>, key: string, body: TradingSignalRequest) {
  const ingestId = ingestIdFor(gw.a.id, key);
  const messages = held.get(ingestId) ?? [];
  expect(messages, `INGEST messages for ${key}`).toHaveLength(1);
  expect((messages[0] as IngestMessage).data, `INGEST holds another body than the 2xx for ${key}`).toEqual({
    id: ingestId,
    timestamp: body.timestamp,
    ...canonicalSignal(body),
  });
}

const expectReused = (res: LightMyRequestResponse) => {
  expect(res.statusCode, res.body).toBe(422);
  expect(ErrorBody.parse(res.json()).error.code).toBe("IDEMPOTENCY_KEY_REUSED");
};

// The slow instance reaches Redis through a delaying proxy; a cluster client would learn the
// nodes' own addresses and go around it. The reservation logic is one key's script either way.
describe.skipIf(testsOnRedisCluster)("Idempotency-Key reserved before the publish (promise 3)", () => {
  it("concurrent pairs with one key and different bodies: at most one 2xx, the other 422, the 2xx body is the event", async () => {
    const keys = Array.from({ length: 200 }, (_, i) => `race-diff-${i}`);
    // The second request of a pair is sent the moment the first one's publish is on the wire
    // (seen on a core subscription), before the first one's Redis write can have landed.
    const published = new Map<string, () => void>();
    const sub = gw.nc.subscribe(INGEST_SUBJECTS, {
      callback: (_err, msg) => published.get(msg.json<IngestMessage>().ingest_id)?.(),
    });
    await gw.nc.flush();
    const pairs = await Promise.all(
      keys.map(async (key) => {
        const bodies = [signal("AAPL"), signal("MSFT")] as const;
        const seen = new Promise<void>((resolve) => published.set(ingestIdFor(gw.a.id, key), resolve));
        const first = post(bodies[0], key, slow.app);
        // Also sent when the first never publishes (it was refused first).
        const second = Promise.race([seen, first]).then(() => post(bodies[1], key));
        return { key, bodies, answers: await Promise.all([first, second]) };
      }),
    );
    sub.unsubscribe();
    const held = await ingestById();
    for (const { key, bodies, answers } of pairs) {
      const statuses = answers.map((r) => r.statusCode).sort();
      expect(statuses, `${key}: ${answers.map((r) => r.body).join(" | ")}`).toEqual([202, 422]);
      const winner = answers.findIndex((r) => r.statusCode === 202);
      expectReused(answers[1 - winner] as LightMyRequestResponse);
      expectStoredAs(held, key, bodies[winner] as TradingSignalRequest);
    }
  });

  it("concurrent pairs with one key and the same body: both 2xx with one answer, one message in INGEST", async () => {
    const keys = Array.from({ length: 200 }, (_, i) => `race-same-${i}`);
    const before = await gw.ingestCount();
    const pairs = await Promise.all(
      keys.map(async (key) => ({
        key,
        answers: await Promise.all([post(signal("NVDA"), key, slow.app), post(signal("NVDA"), key)]),
      })),
    );
    expect(await gw.ingestCount()).toBe(before + keys.length);
    const held = await ingestById();
    for (const { key, answers } of pairs) {
      for (const res of answers) expect(res.statusCode, res.body).toBe(202);
      expect(PublishAccepted.parse(answers[0]?.json())).toEqual(answers[1]?.json());
      expectStoredAs(held, key, signal("NVDA"));
    }
  });

  it("a publish that failed (INGEST full) binds the key: another body is 422, the same body then succeeds", async () => {
    const { state } = await gw.jsm.streams.info(INGEST_STREAM);
    await ensureStreams(gw.nc, { replicas: 1, ingestMaxBytes: state.bytes + 10 });
    let failedKey: string | undefined;
    try {
      // The fault had an effect: a keyed publish answered 503 and INGEST holds nothing for it.
      for (let i = 0; i < 20 && failedKey === undefined; i++) {
        const res = await post(signal("AAPL"), `full-${i}`);
        if (res.statusCode === 503) failedKey = `full-${i}`;
      }
    } finally {
      await ensureStreams(gw.nc, { replicas: 1 });
    }
    expect(failedKey, "INGEST never refused a publish").toBeDefined();
    const key = failedKey as string;
    expect((await ingestById()).get(ingestIdFor(gw.a.id, key))).toBeUndefined();

    expectReused(await post(signal("MSFT"), key));
    const retry = await post(signal("AAPL"), key);
    expect(retry.statusCode, retry.body).toBe(202);
    expectStoredAs(await ingestById(), key, signal("AAPL"));
    const again = await post(signal("AAPL"), key);
    expect(again.body).toBe(retry.body);
    expect(again.headers[IDEMPOTENT_REPLAY_HEADER]).toBe("true");
  });

  it("a PubAck lost after INGEST stored the publish (503, no record): another body is 422, never a 2xx for an event it is not", async () => {
    // A gateway whose NATS is 300 ms away each way and whose PubAck wait is 100 ms: INGEST stores
    // the publish, the gateway has answered 503 long before the PubAck comes back.
    const log = createLogger({ name: "late-acks", level: "silent" });
    const target = new URL(gw.natsServer.url.replace(/^nats:/, "http:"));
    const proxy = await startDelayedProxy({ host: target.hostname, port: Number(target.port) }, 300);
    const nc = await connectNats({ url: proxy.url("nats"), credentials: gw.natsServer.credentials }, log, "late-acks");
    const { app: hasty } = await buildApp({
      log,
      nc,
      redis: gw.redis,
      config: { ...gw.config, PUBLISH_TIMEOUT_MS: 100 },
    });
    const key = "lost-ack";
    try {
      const res = await post(signal("AAPL"), key, hasty);
      expect(res.statusCode, res.body).toBe(503);
      // The fault had its effect: INGEST did store it.
      const id = ingestIdFor(gw.a.id, key);
      await waitFor(async () => (await ingestById()).has(id), { timeoutMs: 5_000, what: "the publish in INGEST" });
    } finally {
      await hasty.close();
      await nc.close();
      await proxy.stop();
    }
    expectReused(await post(signal("MSFT"), key));
    const retry = await post(signal("AAPL"), key);
    expect(retry.statusCode, retry.body).toBe(202);
    expectStoredAs(await ingestById(), key, signal("AAPL"));
  });

  it("a retry while another instance holds the key waits, bounded: 409 IDEMPOTENCY_KEY_IN_PROGRESS with Retry-After, then takes over once the reservation lapses", async () => {
    // An instance that reserved the key and hung: its pending record, with the request's hash.
    const key = "hung-owner-1";
    const done = await post(signal("AAPL"), key);
    expect(done.statusCode).toBe(202);
    const redisKey = idempotencyKey(gw.a.id, sha256hex(key));
    const { request_hash } = JSON.parse((await gw.redis.get(redisKey)) as string) as { request_hash: string };
    const [seconds] = await gw.redis.time();
    const hung = { request_hash, owner: "hung", pending_until: (Number(seconds) + 60) * 1000 };
    await gw.redis.set(redisKey, JSON.stringify(hung), "EX", 3600);

    // PUBLISH_TIMEOUT_MS 1: a retry waits PUBLISH_TIMEOUT_MS + 2 s for the answer, then gives up.
    const log = createLogger({ name: "short-wait", level: "silent" });
    const { app } = await buildApp({
      log,
      nc: gw.nc,
      redis: gw.redis,
      config: { ...gw.config, PUBLISH_TIMEOUT_MS: 1 },
    });
    try {
      const started = Date.now();
      const busy = await post(signal("AAPL"), key, app);
      expect(busy.statusCode, busy.body).toBe(409);
      expect(ErrorBody.parse(busy.json()).error.code).toBe("IDEMPOTENCY_KEY_IN_PROGRESS");
      expect(Number(busy.headers["retry-after"])).toBeGreaterThanOrEqual(1);
      expect(Date.now() - started).toBeGreaterThanOrEqual(2_000);
      expect(await gw.redis.get(redisKey)).toBe(JSON.stringify(hung));
      // Another body is refused at once, waiting for nothing.
      expectReused(await post(signal("MSFT"), key, app));
    } finally {
      await app.close();
    }
    // The hung owner's window lapses: the retry takes the publish over; INGEST still holds one.
    await gw.redis.set(redisKey, JSON.stringify({ ...hung, pending_until: 0 }), "EX", 3600);
    const before = await gw.ingestCount();
    const retry = await post(signal("AAPL"), key);
    expect(retry.statusCode, retry.body).toBe(202);
    expect(retry.json()).toEqual(done.json());
    expect(await gw.ingestCount()).toBe(before);
    expect(JSON.parse((await gw.redis.get(redisKey)) as string)).toEqual({
      request_hash,
      status: 202,
      body: done.json(),
    });
  });
});
