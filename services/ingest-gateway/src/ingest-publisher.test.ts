import { ErrorBody, INGEST_STREAM } from "@heliograph/contracts";
import { DOCUMENT_TRADING_SIGNAL_BODY } from "@heliograph/contracts/fixtures";
import { connectNats, createLogger, ensureStreams } from "@heliograph/platform";
import { waitFor } from "@heliograph/testkit";
import type { LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGateway, type TestGateway } from "../test/test-gateway.js";
import { buildApp } from "./app.js";

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway({ env: { PUBLISH_TIMEOUT_MS: "300" } });
});
afterAll(async () => {
  await gw?.stop();
});

const publish = (app = gw.app, key?: string) =>
  app.inject({
    method: "POST",
    url: "/api/v1/create_trading_signal",
    headers: { ...gw.headers(), "content-type": "application/json", ...(key ? { "idempotency-key": key } : {}) },
    payload: DOCUMENT_TRADING_SIGNAL_BODY,
  });

function expectUnavailable(res: LightMyRequestResponse) {
  expect(res.statusCode, res.body).toBe(503);
  expect(res.headers["retry-after"]).toBe("1");
  expect(ErrorBody.parse(res.json()).error.code).toBe("INGEST_UNAVAILABLE");
}

describe("when JetStream cannot store a publish, the answer is 503 INGEST_UNAVAILABLE, never 202", () => {
  it("the NATS connection is closed", async () => {
    const log = createLogger({ name: "test", level: "silent" });
    const nc = await connectNats(gw.natsServer, log, "closed-test");
    const { app } = await buildApp({ log, nc, redis: gw.redis, config: gw.config });
    try {
      // Credentials cached first: with NATS gone, an uncached one cannot be checked (the control
      // plane is in NATS KV) and is a 503 SERVICE_UNAVAILABLE before any publish is tried.
      expect((await publish(app)).statusCode).toBe(202);
      await nc.close();
      const before = await gw.ingestCount();
      expectUnavailable(await publish(app));
      expect(await gw.ingestCount()).toBe(before);
      expect((await app.inject({ method: "GET", url: "/readyz" })).statusCode).toBe(503);
    } finally {
      await app.close();
    }
  });

  it("nats-server is down; publishing works again once it is back, and the key's retry is stored once", async () => {
    // The credentials are cached (as a publisher's are once it has published): the cache serves
    // while the connection is down, so the publish itself is what fails.
    expect((await publish()).statusCode).toBe(202);
    const before = await gw.ingestCount();
    const disconnected = (async () => {
      for await (const status of gw.nc.status()) if (status.type === "disconnect") return;
    })();
    await gw.natsServer.stop();
    await disconnected;
    try {
      expectUnavailable(await publish());
      // A keyed publish that failed is not recorded: its retry is a fresh attempt, not a replay.
      expectUnavailable(await publish(gw.app, "outage-1"));
    } finally {
      await gw.natsServer.restart();
    }
    await waitFor(async () => (await publish(gw.app, "outage-1")).statusCode === 202, {
      timeoutMs: 20_000,
      what: "a publish to succeed after nats-server restarts",
    });
    const replay = await publish(gw.app, "outage-1");
    expect(replay.statusCode).toBe(202);
    expect(replay.headers["idempotent-replayed"]).toBe("true");
    // Only the keyed publish is stored, once, whatever the number of attempts.
    expect(await gw.ingestCount()).toBe(before + 1);
  });

  it("the INGEST stream is full (discard new)", async () => {
    const { state } = await gw.jsm.streams.info(INGEST_STREAM);
    await ensureStreams(gw.nc, { replicas: 1, ingestMaxBytes: state.bytes + 2_000 });
    let refused: LightMyRequestResponse | undefined;
    for (let i = 0; i < 50 && !refused; i++) {
      const before = await gw.ingestCount();
      const res = await publish();
      if (res.statusCode === 202) continue;
      refused = res;
      expect(await gw.ingestCount()).toBe(before);
    }
    expect(refused, "the stream never filled").toBeDefined();
    expectUnavailable(refused as LightMyRequestResponse);
    await ensureStreams(gw.nc, { replicas: 1 });
    expect((await publish()).statusCode).toBe(202);
  });

  it("the INGEST stream does not exist (no responders)", async () => {
    await gw.jsm.streams.delete(INGEST_STREAM);
    try {
      expectUnavailable(await publish());
    } finally {
      await ensureStreams(gw.nc, { replicas: 1 });
    }
    expect(await gw.ingestCount()).toBe(0);
    expect((await publish()).statusCode).toBe(202);
    expect(await gw.ingestCount()).toBe(1);
  });
});

describe("when Redis does not answer", () => {
  it("a keyed publish answers 503 SERVICE_UNAVAILABLE with Retry-After, not 500; credentials need no Redis", async () => {
    await gw.redisServer.stop();
    try {
      // Tenants live in NATS KV: an unknown key is still told it is unknown.
      const unknown = await gw.app.inject({
        method: "POST",
        url: "/api/v1/create_trading_signal",
        headers: { "API-KEY": "hgk_not_cached", "API-SECRET": "x", "content-type": "application/json" },
        payload: DOCUMENT_TRADING_SIGNAL_BODY,
      });
      expect(unknown.statusCode, unknown.body).toBe(401);
      const res = await publish(gw.app, "redis-down-1");
      expect(res.statusCode, res.body).toBe(503);
      expect(res.headers["retry-after"]).toBe("1");
      expect(ErrorBody.parse(res.json()).error.code).toBe("SERVICE_UNAVAILABLE");
    } finally {
      await gw.redisServer.restart();
    }
    await waitFor(async () => (await publish()).statusCode === 202, { timeoutMs: 20_000, what: "Redis to be back" });
  });
});
