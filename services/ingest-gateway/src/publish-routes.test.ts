import { ingestSubject, PublishAccepted, partitionOf } from "@heliograph/contracts";
import {
  DOCUMENT_RESOURCE_1,
  DOCUMENT_RESOURCE_DICT,
  DOCUMENT_TRADING_SIGNAL_BODY,
} from "@heliograph/contracts/fixtures";
import type { LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGateway, type TestGateway } from "../test/test-gateway.js";

/** The bodies exactly as the document's Python code sends them (`requests.post(url, json=data)`). */
const PYTHON_UPLOAD_RESOURCE =
  '{"resource_id": 1, "resource_dict": {"Symbol": "LGND", "Market": "U.S. Nasdaq", "Retracement channels": {"90": {"current_price": 66.51000213623047, "fibonacci_levels": [82.04000091552734, 75.13517967224121, 70.86355297088623, 67.41114234924316, 63.958731727600096, 59.04343524932861, 52.782283782958984], "trend": "bullish"}}}}';
const PYTHON_CREATE_TRADING_SIGNAL =
  '{"algorithm_id": 1, "ticker_symbol": "AAPL", "order_type": "market", "portfolio_ratio_investment": 0.01, "side": "buy", "time_in_force": "gtc"}';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway();
});
afterAll(async () => {
  await gw?.stop();
});

const subjectOf = (streamId: string) => ingestSubject(partitionOf(streamId, gw.config.PARTITIONS), streamId);

function post(path: string, body: unknown, headers: Record<string, string> = gw.headers()) {
  return gw.app.inject({
    method: "POST",
    url: `/api/v1/${path}`,
    headers: { "content-type": "application/json", ...headers },
    payload: typeof body === "string" ? body : JSON.stringify(body),
  });
}

const signal = (overrides: Record<string, unknown> = {}) => ({ ...DOCUMENT_TRADING_SIGNAL_BODY, ...overrides });
const upload = (resource_dict: Record<string, unknown>, resource_id = 1) => ({ resource_id, resource_dict });

const expectRejected: TestGateway["expectRejected"] = (send, status, code) => gw.expectRejected(send, status, code);

async function expectAccepted(res: LightMyRequestResponse): Promise<PublishAccepted> {
  expect(res.statusCode, res.body).toBe(202);
  const answer = PublishAccepted.parse(res.json());
  expect(answer.ingest_id).toMatch(/^ing_[0-9a-f]{32}$/);
  return answer;
}

describe("the resources document's examples", () => {
  it("upload_resource(1, data_dict) is accepted and INGEST holds exactly its IngestMessage", async () => {
    const before = await gw.ingestCount();
    const res = await post("upload_resource", PYTHON_UPLOAD_RESOURCE);
    const answer = await expectAccepted(res);
    expect(answer).toMatchObject({ status: "accepted", stream_id: "resource-1", id: "1" });
    expect(await gw.ingestCount()).toBe(before + 1);

    const { message, msgId } = await gw.lastIngest(subjectOf("resource-1"));
    expect(msgId).toBe(answer.ingest_id);
    expect(message).toEqual({
      ingest_id: answer.ingest_id,
      stream_id: "resource-1",
      publisher_id: gw.a.id,
      event_type: "ResourcePublished",
      data: {
        id: "1",
        timestamp: message.received_at,
        resource_id: 1,
        title: DOCUMENT_RESOURCE_1.title,
        resource_dict: DOCUMENT_RESOURCE_DICT,
      },
      received_at: message.received_at,
    });
    expect(new Date(message.received_at).toISOString()).toBe(message.received_at);
  });

  it("create_trading_signal(1, 'AAPL', 0.01, 'market', 'buy', 'gtc') is accepted and stored exactly", async () => {
    const before = await gw.ingestCount();
    const answer = await expectAccepted(await post("create_trading_signal", PYTHON_CREATE_TRADING_SIGNAL));
    expect(answer).toMatchObject({ status: "accepted", stream_id: "algorithm-1", id: answer.ingest_id });
    expect(await gw.ingestCount()).toBe(before + 1);

    const { message, msgId } = await gw.lastIngest(subjectOf("algorithm-1"));
    expect(msgId).toBe(answer.ingest_id);
    expect(message).toEqual({
      ingest_id: answer.ingest_id,
      stream_id: "algorithm-1",
      publisher_id: gw.a.id,
      event_type: "TradingSignalCreated",
      data: { id: answer.ingest_id, timestamp: message.received_at, ...DOCUMENT_TRADING_SIGNAL_BODY },
      received_at: message.received_at,
    });
  });

  // The document's Python code itself runs against the real services in test/e2e/publish-to-read.test.ts.
});

describe("create_trading_signal", () => {
  it("accepts the field list's names as aliases and stores the canonical names", async () => {
    const { ticker_symbol: _t, portfolio_ratio_investment: _p, ...rest } = DOCUMENT_TRADING_SIGNAL_BODY;
    const answer = await expectAccepted(
      await post("create_trading_signal", { ...rest, symbol: "MSFT", percentage_of_buying_power: 0.25 }),
    );
    const { message } = await gw.lastIngest(subjectOf("algorithm-1"));
    expect(message.ingest_id).toBe(answer.ingest_id);
    expect(message.data).toMatchObject({ ticker_symbol: "MSFT", portfolio_ratio_investment: 0.25 });
    expect(message.data).not.toHaveProperty("symbol");
    expect(message.data).not.toHaveProperty("percentage_of_buying_power");
  });

  it("accepts a field and its alias given with the same value", async () => {
    await expectAccepted(await post("create_trading_signal", signal({ symbol: "AAPL" })));
  });

  it("refuses a field and its alias with different values: 422 SIGNAL_FIELD_CONFLICT", async () => {
    const body = await expectRejected(
      () => post("create_trading_signal", signal({ symbol: "MSFT" })),
      422,
      "SIGNAL_FIELD_CONFLICT",
    );
    expect(body.error.details.map((d) => d.path)).toContain("symbol");
    await expectRejected(
      () => post("create_trading_signal", signal({ percentage_of_buying_power: 0.5 })),
      422,
      "SIGNAL_FIELD_CONFLICT",
    );
  });

  it.each(["gtc", "day"])("accepts time_in_force %s", async (tif) => {
    await expectAccepted(await post("create_trading_signal", signal({ time_in_force: tif })));
    expect((await gw.lastIngest(subjectOf("algorithm-1"))).message.data.time_in_force).toBe(tif);
  });

  it("refuses a limit order: 422 SIGNAL_ORDER_TYPE_UNSUPPORTED naming order_type", async () => {
    const body = await expectRejected(
      () => post("create_trading_signal", signal({ order_type: "limit" })),
      422,
      "SIGNAL_ORDER_TYPE_UNSUPPORTED",
    );
    expect(body.error.details[0]?.path).toBe("order_type");
  });

  it("keeps the publisher's timestamp", async () => {
    await expectAccepted(await post("create_trading_signal", signal({ timestamp: "2024-05-01T13:30:00.000Z" })));
    const { message } = await gw.lastIngest(subjectOf("algorithm-1"));
    expect(message.data.timestamp).toBe("2024-05-01T13:30:00.000Z");
  });

  it("answers 400 VALIDATION_FAILED naming each bad field", async () => {
    const body = await expectRejected(
      () => post("create_trading_signal", signal({ side: "hold", portfolio_ratio_investment: 2 })),
      400,
      "VALIDATION_FAILED",
    );
    expect(body.error.details.map((d) => d.path).sort()).toEqual(["portfolio_ratio_investment", "side"]);
    const missing = await expectRejected(
      () => post("create_trading_signal", { algorithm_id: 1, order_type: "market", side: "buy", time_in_force: "day" }),
      400,
      "VALIDATION_FAILED",
    );
    expect(missing.error.details.map((d) => d.path)).toEqual(
      expect.arrayContaining(["ticker_symbol", "portfolio_ratio_investment"]),
    );
    const unknown = await expectRejected(
      () => post("create_trading_signal", signal({ quantity: 5 })),
      400,
      "VALIDATION_FAILED",
    );
    expect(unknown.error.details.length).toBeGreaterThan(0);
  });

  it("refuses an unknown algorithm (404) and another publisher's (403)", async () => {
    await expectRejected(
      () => post("create_trading_signal", signal({ algorithm_id: 999 })),
      404,
      "ALGORITHM_NOT_FOUND",
    );
    await expectRejected(() => post("create_trading_signal", signal({ algorithm_id: 2 })), 403, "ALGORITHM_FORBIDDEN");
    // B may post to its own algorithm.
    const answer = await expectAccepted(
      await post("create_trading_signal", signal({ algorithm_id: 2 }), gw.headers(gw.b)),
    );
    expect(answer.stream_id).toBe("algorithm-2");
  });
});

describe("upload_resource", () => {
  it("names resource_dict.<key> for each value of the wrong type", async () => {
    const body = await expectRejected(
      () => post("upload_resource", upload({ ...DOCUMENT_RESOURCE_DICT, Symbol: 5, "Retracement channels": "x" })),
      422,
      "RESOURCE_VALUE_INVALID",
    );
    expect(body.error.details.map((d) => d.path).sort()).toEqual([
      "resource_dict.Retracement channels",
      "resource_dict.Symbol",
    ]);
  });

  it("refuses a missing declared key", async () => {
    const { Market: _m, ...withoutMarket } = DOCUMENT_RESOURCE_DICT;
    const body = await expectRejected(
      () => post("upload_resource", upload(withoutMarket)),
      422,
      "RESOURCE_VALUE_INVALID",
    );
    expect(body.error.details).toEqual([{ path: "resource_dict.Market", message: expect.any(String) }]);
  });

  it("refuses an undeclared key", async () => {
    const body = await expectRejected(
      () => post("upload_resource", upload({ ...DOCUMENT_RESOURCE_DICT, Sector: "Biotech" })),
      422,
      "RESOURCE_VALUE_INVALID",
    );
    expect(body.error.details).toEqual([{ path: "resource_dict.Sector", message: expect.any(String) }]);
  });

  it("accepts an ARRAY key given as a JSON array", async () => {
    await expectAccepted(
      await post("upload_resource", upload({ ...DOCUMENT_RESOURCE_DICT, "Retracement channels": [1, 2] })),
    );
  });

  it("treats a key declared {type, optional: true} as optional", async () => {
    await expectAccepted(await post("upload_resource", upload({ Symbol: "AAPL", Price: 1.5 }, 3)));
    await expectAccepted(await post("upload_resource", upload({ Symbol: "AAPL", Price: 1.5, Note: null }, 3)));
    const answer = await expectAccepted(
      await post("upload_resource", upload({ Symbol: "AAPL", Price: 1.5, Note: "earnings" }, 3)),
    );
    expect(answer).toMatchObject({ stream_id: "resource-3", id: "3" });
    const wrongType = await expectRejected(
      () => post("upload_resource", upload({ Symbol: "AAPL", Price: 1.5, Note: 5 }, 3)),
      422,
      "RESOURCE_VALUE_INVALID",
    );
    expect(wrongType.error.details.map((d) => d.path)).toEqual(["resource_dict.Note"]);
    const missingRequired = await expectRejected(
      () => post("upload_resource", upload({ Symbol: "AAPL" }, 3)),
      422,
      "RESOURCE_VALUE_INVALID",
    );
    expect(missingRequired.error.details.map((d) => d.path)).toEqual(["resource_dict.Price"]);
  });

  it("refuses an unknown resource (404) and another publisher's (403)", async () => {
    await expectRejected(() => post("upload_resource", upload(DOCUMENT_RESOURCE_DICT, 999)), 404, "RESOURCE_NOT_FOUND");
    await expectRejected(() => post("upload_resource", upload({ Symbol: "X" }, 2)), 403, "RESOURCE_FORBIDDEN");
    await expectRejected(
      () => post("upload_resource", upload(DOCUMENT_RESOURCE_DICT, 1), gw.headers(gw.b)),
      403,
      "RESOURCE_FORBIDDEN",
    );
  });

  it("answers 400 VALIDATION_FAILED naming the field", async () => {
    const body = await expectRejected(() => post("upload_resource", { resource_id: "one" }), 400, "VALIDATION_FAILED");
    expect(body.error.details.map((d) => d.path).sort()).toEqual(["resource_dict", "resource_id"]);
    await expectRejected(() => post("upload_resource", [1, 2]), 400, "VALIDATION_FAILED");
  });
});

describe("every refusal has the error body and reaches nothing", () => {
  it("401 AUTH_MISSING without credentials, 401 AUTH_INVALID with a wrong secret or unknown key", async () => {
    await expectRejected(() => post("upload_resource", PYTHON_UPLOAD_RESOURCE, {}), 401, "AUTH_MISSING");
    await expectRejected(
      () => post("upload_resource", PYTHON_UPLOAD_RESOURCE, { "API-KEY": gw.a.api_key }),
      401,
      "AUTH_MISSING",
    );
    await expectRejected(
      () => post("upload_resource", PYTHON_UPLOAD_RESOURCE, { "API-KEY": gw.a.api_key, "API-SECRET": "wrong" }),
      401,
      "AUTH_INVALID",
    );
    await expectRejected(
      () =>
        post("create_trading_signal", PYTHON_CREATE_TRADING_SIGNAL, {
          "API-KEY": gw.a.api_key,
          "API-SECRET": gw.b.api_secret,
        }),
      401,
      "AUTH_INVALID",
    );
    await expectRejected(
      () =>
        post("create_trading_signal", PYTHON_CREATE_TRADING_SIGNAL, {
          "API-KEY": "hgk_unknown",
          "API-SECRET": gw.a.api_secret,
        }),
      401,
      "AUTH_INVALID",
    );
  });

  it("authenticates before reading the body", async () => {
    const bad = { "API-KEY": gw.a.api_key, "API-SECRET": "wrong" };
    await expectRejected(() => post("upload_resource", "{not json", bad), 401, "AUTH_INVALID");
    await expectRejected(() => post("upload_resource", "x".repeat(70 * 1024), bad), 401, "AUTH_INVALID");
    await expectRejected(
      () =>
        gw.app.inject({
          method: "POST",
          url: "/api/v1/upload_resource",
          headers: { ...bad, "content-type": "text/plain" },
          payload: "hi",
        }),
      401,
      "AUTH_INVALID",
    );
  });

  it("413 BODY_TOO_LARGE over 64 KiB", async () => {
    const big = upload({ ...DOCUMENT_RESOURCE_DICT, Symbol: "x".repeat(65 * 1024) });
    await expectRejected(() => post("upload_resource", big), 413, "BODY_TOO_LARGE");
  });

  it("400 MALFORMED_JSON for a syntax error, an empty body or __proto__", async () => {
    await expectRejected(() => post("upload_resource", '{"resource_id": 1,'), 400, "MALFORMED_JSON");
    await expectRejected(() => post("create_trading_signal", ""), 400, "MALFORMED_JSON");
    await expectRejected(
      () => post("upload_resource", '{"resource_id": 1, "resource_dict": {"__proto__": {"x": 1}}}'),
      400,
      "MALFORMED_JSON",
    );
  });

  it("400 VALIDATION_FAILED for a body that is not an object, or none", async () => {
    for (const path of ["create_trading_signal", "upload_resource"]) {
      for (const body of ["null", "[]", '"text"', "42", "true"]) {
        await expectRejected(() => post(path, body), 400, "VALIDATION_FAILED");
      }
      await expectRejected(
        () => gw.app.inject({ method: "POST", url: `/api/v1/${path}`, headers: gw.headers() }),
        400,
        "VALIDATION_FAILED",
      );
    }
  });

  it("415 UNSUPPORTED_MEDIA_TYPE for a body that is not JSON", async () => {
    for (const type of ["text/plain", "application/x-www-form-urlencoded", "application/xml", undefined]) {
      await expectRejected(
        () =>
          gw.app.inject({
            method: "POST",
            url: "/api/v1/create_trading_signal",
            headers: { ...gw.headers(), ...(type ? { "content-type": type } : {}) },
            payload: PYTHON_CREATE_TRADING_SIGNAL,
          }),
        415,
        "UNSUPPORTED_MEDIA_TYPE",
      );
    }
  });

  it("404 ROUTE_NOT_FOUND for an unknown route", async () => {
    await expectRejected(() => post("create_trade_idea", "{}"), 404, "ROUTE_NOT_FOUND");
    await expectRejected(
      () => gw.app.inject({ method: "GET", url: "/api/v1/upload_resource", headers: gw.headers() }),
      404,
      "ROUTE_NOT_FOUND",
    );
  });
});

describe("service endpoints", () => {
  it("serves /healthz, /readyz and /metrics", async () => {
    expect((await gw.app.inject({ method: "GET", url: "/healthz" })).statusCode).toBe(200);
    const ready = await gw.app.inject({ method: "GET", url: "/readyz" });
    expect(ready.statusCode, ready.body).toBe(200);
    expect(ready.json().checks).toEqual({ nats: "ok", redis: "ok" });
    const metrics = await gw.app.inject({ method: "GET", url: "/metrics" });
    expect(metrics.body).toContain("heliograph_ingest_publishes_total");
  });

  it("documents the publisher API in /openapi.json", async () => {
    const doc = (await gw.app.inject({ method: "GET", url: "/openapi.json" })).json();
    const signalOp = doc.paths["/api/v1/create_trading_signal"].post;
    expect(signalOp.description).toMatch(/trading signal/);
    expect(signalOp.tags).toEqual(["publisher"]);
    expect(signalOp.requestBody.content["application/json"].schema.properties).toHaveProperty("ticker_symbol");
    expect(signalOp.responses).toHaveProperty("202");
    expect(doc.paths["/api/v1/upload_resource"].post.requestBody).toBeDefined();
  });
});
