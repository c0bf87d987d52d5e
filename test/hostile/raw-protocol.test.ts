import type { Socket } from "node:net";
import { waitFor } from "@heliograph/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { answerProblem } from "./answer-checks.js";
import { type HostileStack, startHostileStack } from "./hostile-stack.js";
import { bearerHeaders, encodeRequest, publisherHeaders, type RawRequest, rawRequest } from "./raw-http.js";

// Named hostile inputs, each pinned down on its own: what the property tests found, and what
// only a raw socket can send (slow clients, malformed HTTP). No sequencer: INGEST keeps all.
let stack: HostileStack;
let ingestPort: number;
let streamPort: number;
beforeAll(async () => {
  stack = await startHostileStack({ services: ["ingest-gateway", "stream-gateway"] });
  ingestPort = stack.services["ingest-gateway"]?.port as number;
  streamPort = stack.services["stream-gateway"]?.port as number;
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

const publisher = () => publisherHeaders(stack);
const bearer = () => bearerHeaders(stack);
const deepResource = (depth: number) =>
  `{"resource_id":1,"resource_dict":{"Symbol":"LGND","Market":"X","Retracement channels":${"[".repeat(depth)}${"]".repeat(depth)}}}`;

async function expectClearRefusal(port: number, req: RawRequest): Promise<void> {
  const before = await stack.ingestMessages();
  const res = await rawRequest(port, req);
  expect(res.status, res.body.slice(0, 300)).toBeGreaterThanOrEqual(400);
  expect(answerProblem(res, req.method), res.body.slice(0, 300)).toBeUndefined();
  expect(await stack.ingestMessages()).toBe(before);
  await stack.assertAlive();
}

describe("deeply nested JSON inside resource_dict (within the 64 KiB limit)", () => {
  it("with an Idempotency-Key: a 4xx, not a 500 (canonicalJson recursion)", async () => {
    await expectClearRefusal(ingestPort, {
      method: "POST",
      path: "/api/v1/upload_resource",
      headers: [...publisher(), ["Idempotency-Key", "deep-with-key"]],
      body: deepResource(20_000),
    });
  });

  it("without one: a 4xx, not a 503 the client would retry forever (JSON.stringify overflow)", async () => {
    await expectClearRefusal(ingestPort, {
      method: "POST",
      path: "/api/v1/upload_resource",
      headers: publisher(),
      body: deepResource(20_000),
    });
  });
});

describe("requests refused before the routes run still get the error body", () => {
  const cases: [string, () => number, () => RawRequest][] = [
    [
      "bad percent-encoding in a stream id (%E0%A4%A)",
      () => streamPort,
      () => ({ method: "GET", path: "/api/v1/stream/%E0%A4%A/-1/10", headers: bearer() }),
    ],
    [
      "bad percent-encoding in an admin path (%zz)",
      () => Number(new URL(stack.services["ingest-gateway"]?.adminUrl as string).port),
      () => ({
        method: "GET",
        path: "/admin/v1/publishers/%zz",
        headers: [["Authorization", `Bearer ${stack.adminToken}`]],
      }),
    ],
    [
      "a path parameter over 100 characters (FST_ERR_MAX_PARAM_LENGTH, 414)",
      () => ingestPort,
      () => ({ method: "GET", path: `/api/v1/publishes/ing_${"0".repeat(120)}`, headers: publisher() }),
    ],
    [
      "headers over Node's 16 KiB limit (431)",
      () => streamPort,
      () => ({
        method: "GET",
        path: "/api/v1/stream/algorithm-1/-1/1",
        headers: [...bearer(), ["X-Pad", "p".repeat(20_000)]],
      }),
    ],
    [
      "a NUL byte in a header value (Node's parser refuses it)",
      () => ingestPort,
      () => ({
        method: "POST",
        path: "/api/v1/create_trading_signal",
        headers: [...publisher(), ["Idempotency-Key", "a\u0000b"]],
        body: "{}",
      }),
    ],
    [
      "an unknown method token",
      () => streamPort,
      () => ({ method: "BREW", path: "/api/v1/stream/algorithm-1/-1/1", headers: bearer() }),
    ],
  ];
  for (const [name, port, req] of cases) {
    it(name, async () => {
      await expectClearRefusal(port(), req());
    });
  }
});

describe("slow and broken clients", () => {
  it("a publish sent byte by byte is answered normally, and other clients are not held up meanwhile", async () => {
    const body = JSON.stringify({
      algorithm_id: 1,
      ticker_symbol: "SLOW",
      order_type: "market",
      portfolio_ratio_investment: 0.1,
      side: "buy",
      time_in_force: "day",
    });
    const req: RawRequest = { method: "POST", path: "/api/v1/create_trading_signal", headers: publisher(), body };
    let slowAnswered = 0;
    const slow = Array.from({ length: 5 }, () =>
      rawRequest(ingestPort, req, { delayMs: 2, timeoutMs: 20_000 }).finally(() => {
        slowAnswered++;
      }),
    );
    // Not held up means answered while every slow client is still trickling its request in (an
    // order of events, not a wall-clock bound a loaded machine could break).
    const fast = await fetch(`${stack.services["ingest-gateway"]?.url}/healthz`);
    expect(fast.status).toBe(200);
    expect(slowAnswered).toBe(0);
    for (const res of await Promise.all(slow)) expect(res.status, res.body).toBe(202);
  }, 30_000);

  it("a read sent byte by byte is answered normally", async () => {
    const res = await rawRequest(
      streamPort,
      { method: "GET", path: "/api/v1/stream/algorithm-1/-1/10", headers: [...bearer(), ["X-Long-Poll", "0"]] },
      { delayMs: 2, timeoutMs: 20_000 },
    );
    expect(res.status, res.body).toBe(200);
    expect(res.json).toEqual([]);
  }, 30_000);

  it("clients that stop half-way (head, body, Content-Length longer than the body) harm nothing", async () => {
    const { connect } = await import("node:net");
    const before = await stack.ingestMessages();
    const whole = encodeRequest({
      method: "POST",
      path: "/api/v1/create_trading_signal",
      headers: [...publisher(), ["Content-Length", "500"]],
      body: '{"algorithm_id":1',
    });
    const sockets = [10, 60, whole.length].map(
      (cut) =>
        new Promise<void>((resolve) => {
          const s = connect(ingestPort, "127.0.0.1", () => {
            s.write(whole.subarray(0, cut));
            setTimeout(() => {
              s.destroy();
              resolve();
            }, 200);
          });
          s.on("error", () => resolve());
        }),
    );
    await Promise.all(sockets);
    await stack.assertAlive();
    expect(await stack.ingestMessages()).toBe(before);
  });

  it("a long poll whose client disconnects is dropped, and the gateway lives on", async () => {
    const { connect } = await import("node:net");
    const req = encodeRequest({
      method: "GET",
      path: "/api/v1/stream/algorithm-1/-1/10",
      headers: [...bearer(), ["X-Long-Poll", "30"]],
    });
    const sockets = await Promise.all(
      Array.from(
        { length: 20 },
        () =>
          new Promise<Socket>((resolve, reject) => {
            const s = connect(streamPort, "127.0.0.1", () => {
              s.write(req);
              resolve(s);
            });
            s.on("error", reject);
          }),
      ),
    );
    // All 20 are held (registered with the hub) before anyone goes away...
    await waitFor(async () => (await heldPolls()) === 20, { what: "20 held long polls" });
    for (const s of sockets) s.destroy();
    // ...and dropped when their clients go, long before their 30 s bound.
    await waitFor(async () => (await heldPolls()) === 0, { timeoutMs: 15_000, what: "the held polls dropped" });
    await stack.assertAlive();
  });
});

/** The stream gateway's gauge of long polls held by its hub. */
async function heldPolls(): Promise<number> {
  const metrics = await (await fetch(`${stack.services["stream-gateway"]?.url}/metrics`)).text();
  const value = /^heliograph_stream_waiters(?:\{[^}]*\})?\s+(\d+)/m.exec(metrics)?.[1];
  if (value === undefined) throw new Error("no heliograph_stream_waiters in /metrics");
  return Number(value);
}
