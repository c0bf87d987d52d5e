import { createHash } from "node:crypto";
import { ErrorBody, IDEMPOTENT_REPLAY_HEADER, PublishAccepted } from "@heliograph/contracts";
import { DOCUMENT_RESOURCE_DICT, DOCUMENT_TRADING_SIGNAL_BODY } from "@heliograph/contracts/fixtures";
import { idempotencyKey } from "@heliograph/store";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGateway, type TestGateway } from "../test/test-gateway.js";
import { canonicalJson, ingestIdFor, requestHash } from "./idempotency.js";

const sha256hex = (text: string) => createHash("sha256").update(text).digest("hex");

describe("idempotency helpers", () => {
  it("derives the ingest id of a keyed publish from the publisher and the key only", () => {
    const id = ingestIdFor("pub-a", "key-1");
    expect(id).toBe(`ing_${sha256hex("pub-a\nkey-1").slice(0, 32)}`);
    expect(ingestIdFor("pub-a", "key-1")).toBe(id);
    expect(ingestIdFor("pub-b", "key-1")).not.toBe(id);
    expect(ingestIdFor("pub-a", undefined)).toMatch(/^ing_[0-9a-f]{32}$/);
    expect(ingestIdFor("pub-a", undefined)).not.toBe(ingestIdFor("pub-a", undefined));
  });

  it("hashes a request by method, URL and content, not key order", () => {
    expect(canonicalJson({ b: 1, a: [{ d: 2, c: null }] })).toBe('{"a":[{"c":null,"d":2}],"b":1}');
    const h = requestHash("POST", "/api/v1/x", { a: 1, b: 2 });
    expect(requestHash("POST", "/api/v1/x", { b: 2, a: 1 })).toBe(h);
    expect(requestHash("POST", "/api/v1/y", { a: 1, b: 2 })).not.toBe(h);
    expect(requestHash("POST", "/api/v1/x", { a: 1, b: 3 })).not.toBe(h);
  });
});

describe("Idempotency-Key on publishes (promise 3)", () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway();
  });
  afterAll(async () => {
    await gw?.stop();
  });

  const post = (path: string, body: unknown, key: string | undefined, creds = gw.a) =>
    gw.app.inject({
      method: "POST",
      url: `/api/v1/${path}`,
      headers: {
        "content-type": "application/json",
        ...gw.headers(creds),
        ...(key === undefined ? {} : { "Idempotency-Key": key }),
      },
      payload: typeof body === "string" ? body : JSON.stringify(body),
    });

  it("a retry returns the first answer and INGEST holds one message", async () => {
    const before = await gw.ingestCount();
    const first = await post("create_trading_signal", DOCUMENT_TRADING_SIGNAL_BODY, "retry-1");
    expect(first.statusCode, first.body).toBe(202);
    expect(first.headers[IDEMPOTENT_REPLAY_HEADER]).toBeUndefined();
    const answer = PublishAccepted.parse(first.json());
    expect(answer.ingest_id).toBe(ingestIdFor(gw.a.id, "retry-1"));

    for (let i = 0; i < 3; i++) {
      const retry = await post("create_trading_signal", DOCUMENT_TRADING_SIGNAL_BODY, "retry-1");
      expect(retry.statusCode).toBe(202);
      expect(retry.body).toBe(first.body);
      expect(retry.headers[IDEMPOTENT_REPLAY_HEADER]).toBe("true");
    }
    // The same content with another key order and spacing is the same request.
    const reordered = `{"time_in_force": "gtc", "side": "buy", "portfolio_ratio_investment": 0.01, "order_type": "market", "ticker_symbol": "AAPL", "algorithm_id": 1}`;
    const again = await post("create_trading_signal", reordered, "retry-1");
    expect(again.statusCode).toBe(202);
    expect(again.body).toBe(first.body);
    expect(await gw.ingestCount()).toBe(before + 1);
  });

  it("records the first answer in Redis under the publisher and the key's hash, with the TTL", async () => {
    const res = await post("upload_resource", { resource_id: 1, resource_dict: DOCUMENT_RESOURCE_DICT }, "record-1");
    expect(res.statusCode).toBe(202);
    const redisKey = idempotencyKey(gw.a.id, sha256hex("record-1"));
    const record = JSON.parse((await gw.redis.get(redisKey)) as string);
    expect(record).toEqual({ request_hash: expect.stringMatching(/^[0-9a-f]{64}$/), status: 202, body: res.json() });
    const ttl = await gw.redis.ttl(redisKey);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(gw.config.IDEMPOTENCY_TTL_SECONDS);
  });

  it("concurrent requests with one key create one event and get one answer", async () => {
    const before = await gw.ingestCount();
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => post("create_trading_signal", DOCUMENT_TRADING_SIGNAL_BODY, "concurrent-1")),
    );
    for (const res of answers) expect(res.statusCode, res.body).toBe(202);
    expect(new Set(answers.map((r) => r.body)).size).toBe(1);
    expect(await gw.ingestCount()).toBe(before + 1);
  });

  it("a retry after a crash between the PubAck and the record creates no second event", async () => {
    const first = await post("create_trading_signal", DOCUMENT_TRADING_SIGNAL_BODY, "crash-1");
    expect(first.statusCode).toBe(202);
    const count = await gw.ingestCount();
    // As if the gateway died before writing the record.
    await gw.redis.del(idempotencyKey(gw.a.id, sha256hex("crash-1")));
    const retry = await post("create_trading_signal", DOCUMENT_TRADING_SIGNAL_BODY, "crash-1");
    expect(retry.statusCode).toBe(202);
    expect(retry.json()).toEqual(first.json());
    expect(await gw.ingestCount()).toBe(count);
  });

  it("the same key with another request is 422 IDEMPOTENCY_KEY_REUSED and reaches nothing", async () => {
    const first = await post("create_trading_signal", DOCUMENT_TRADING_SIGNAL_BODY, "reuse-1");
    expect(first.statusCode).toBe(202);
    const before = await gw.ingestCount();
    for (const [path, body] of [
      ["create_trading_signal", { ...DOCUMENT_TRADING_SIGNAL_BODY, side: "sell" }],
      ["upload_resource", { resource_id: 1, resource_dict: DOCUMENT_RESOURCE_DICT }],
    ] as const) {
      const res = await post(path, body, "reuse-1");
      expect(res.statusCode).toBe(422);
      expect(ErrorBody.parse(res.json()).error.code).toBe("IDEMPOTENCY_KEY_REUSED");
    }
    expect(await gw.ingestCount()).toBe(before);
  });

  it("keys are per publisher", async () => {
    const a = await post("create_trading_signal", DOCUMENT_TRADING_SIGNAL_BODY, "shared-key");
    const b = await post(
      "create_trading_signal",
      { ...DOCUMENT_TRADING_SIGNAL_BODY, algorithm_id: 2 },
      "shared-key",
      gw.b,
    );
    expect(a.statusCode).toBe(202);
    expect(b.statusCode).toBe(202);
    expect(b.headers[IDEMPOTENT_REPLAY_HEADER]).toBeUndefined();
    expect(a.json().ingest_id).not.toBe(b.json().ingest_id);
  });

  it("a refused request is not recorded: the corrected request with the same key is accepted", async () => {
    const bad = await post("create_trading_signal", { ...DOCUMENT_TRADING_SIGNAL_BODY, order_type: "limit" }, "fix-1");
    expect(bad.statusCode).toBe(422);
    const good = await post("create_trading_signal", DOCUMENT_TRADING_SIGNAL_BODY, "fix-1");
    expect(good.statusCode).toBe(202);
    expect(good.headers[IDEMPOTENT_REPLAY_HEADER]).toBeUndefined();
  });

  it.each([
    ["empty", ""],
    ["too long", "k".repeat(256)],
    ["with a space", "a b"],
    ["with a control character", "a\tb"],
  ])("400 IDEMPOTENCY_KEY_INVALID for a key %s, before anything reaches INGEST", async (_what, key) => {
    const before = await gw.ingestCount();
    const res = await post("create_trading_signal", DOCUMENT_TRADING_SIGNAL_BODY, key);
    expect(res.statusCode, res.body).toBe(400);
    expect(ErrorBody.parse(res.json()).error.code).toBe("IDEMPOTENCY_KEY_INVALID");
    expect(await gw.ingestCount()).toBe(before);
  });

  it("accepts a 255-character key", async () => {
    const res = await post("create_trading_signal", DOCUMENT_TRADING_SIGNAL_BODY, "~".repeat(255));
    expect(res.statusCode).toBe(202);
  });
});
