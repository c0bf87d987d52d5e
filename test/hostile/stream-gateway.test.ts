import { StreamEvent } from "@heliograph/contracts";
import { DOCUMENT_TRADING_SIGNAL_BODY } from "@heliograph/contracts/fixtures";
import { waitFor } from "@heliograph/testkit";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectationProblem } from "./answer-checks.js";
import { headerSet, headerValue, hostileString, pathNoise, pathSegment, wireSafe } from "./arbitraries.js";
import { type HostileStack, startHostileStack } from "./hostile-stack.js";
import { assertEveryAnswer, request } from "./property.js";
import type { RawRequest, RawResponse } from "./raw-http.js";
import { ReadModel } from "./read-model.js";

// Promise 5 (and 7) on the stream gateway: the read routes with hostile stream ids, event numbers,
// batch sizes, X-Long-Poll values and Authorization headers. algorithm-1 holds three events, so a
// valid read from -1 answers at once; everything else is sent with X-Long-Poll: 0.
let stack: HostileStack;
let port: number;
let model: ReadModel;
const HEAD = 2;

beforeAll(async () => {
  stack = await startHostileStack({ services: ["ingest-gateway", "sequencer", "stream-gateway"] });
  port = stack.services["stream-gateway"]?.port as number;
  for (let i = 0; i <= HEAD; i++) {
    const res = await fetch(`${stack.services["ingest-gateway"]?.url}/api/v1/create_trading_signal`, {
      method: "POST",
      headers: { "API-KEY": stack.a.api_key, "API-SECRET": stack.a.api_secret, "content-type": "application/json" },
      body: JSON.stringify(DOCUMENT_TRADING_SIGNAL_BODY),
    });
    expect(res.status).toBe(202);
  }
  await waitFor(
    async () => {
      const res = await fetch(`${stack.services["stream-gateway"]?.url}/api/v1/stream/algorithm-1/`, {
        headers: { authorization: `Bearer ${stack.subscriber.token}` },
      });
      return res.headers.get("x-heliograph-head") === String(HEAD);
    },
    { what: "three events in algorithm-1" },
  );
  // As the hostile stack seeds them.
  model = new ReadModel({
    subscribers: new Map([
      [stack.subscriber.token, new Set(["algorithm-1", "resource-1", "ideas-a-ideas"])],
      [stack.otherSubscriber.token, new Set(["algorithm-2"])],
    ]),
  });
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

const auth = () =>
  headerSet(
    "Authorization",
    fc.oneof(
      { weight: 6, arbitrary: fc.constant(`Bearer ${stack.subscriber.token}`) },
      { weight: 1, arbitrary: fc.constant(`Bearer ${stack.otherSubscriber.token}`) },
      {
        weight: 2,
        arbitrary: headerValue([
          `Bearer ${stack.subscriber.token}`,
          `bearer ${stack.subscriber.token}`,
          `Bearer  ${stack.subscriber.token}  `,
          "Bearer",
          "Bearer x y",
          `Basic ${stack.subscriber.token}`,
          `Bearer ${stack.adminToken}`,
        ]),
      },
    ),
  );

const eventNumbers = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: -3, max: HEAD + 2 }).map(String) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      "-0",
      "+1",
      "1.0",
      "1.5",
      "-1.5",
      "1e3",
      "0x1",
      " 1",
      "1 ",
      "00",
      "-00001",
      "9007199254740991",
      "9007199254740993",
      "99999999999999999999",
      "-9007199254740993",
      "Infinity",
      "NaN",
      "",
      "%2D1",
      "%31",
      "１",
      "٣",
    ),
  },
  { weight: 1, arbitrary: fc.double().map(String) },
  { weight: 1, arbitrary: fc.bigInt().map(String) },
  { weight: 1, arbitrary: hostileString.map((s) => encodeURIComponent(s.replace(/[\ud800-\udfff]/g, "x"))) },
);

const streamIds = pathSegment(["algorithm-1", "algorithm-2", "resource-1", "ideas-a-ideas", "no-such-stream"]);

/**
 * The answer is the model's (read-model.ts: 200 exactly for a valid, entitled read, else its code),
 * and a 200 to a stream read is a JSON array of consecutive events right after the number asked for.
 */
function checkRead(req: RawRequest, res: RawResponse): void {
  const problem = expectationProblem(res, model.expect(req), req.method);
  if (problem) throw new Error(problem);
  if (req.method === "HEAD" || res.status !== 200 || !req.path.includes("/api/v1/stream/")) return;
  if (!Array.isArray(res.json)) throw new Error("a 200 whose body is not a JSON array");
  const match = /\/api\/v1\/stream\/[^/]+\/(-?\d+)\/\d+$/.exec(req.path);
  const events = res.json as unknown[];
  events.forEach((e, i) => {
    const parsed = StreamEvent.safeParse(e);
    if (!parsed.success) throw new Error(`a 200 with an event that is not an event: ${JSON.stringify(e)}`);
    if (match && parsed.data.event_number !== Number(match[1]) + 1 + i) {
      throw new Error(`read ${req.path} answered event ${parsed.data.event_number} at position ${i}`);
    }
  });
  if (!/^-?\d+$/.test(res.headers["x-heliograph-head"] ?? "")) throw new Error("no X-Heliograph-Head on a 200");
  if (!["live", "halted"].includes(res.headers["x-heliograph-stream-status"] ?? "")) {
    throw new Error("no X-Heliograph-Stream-Status on a 200");
  }
}

describe("the subscriber API serves exactly the valid, entitled reads and refuses each bad one with its code", () => {
  it("GET /api/v1/stream/:stream_id/:event_number/:batch_size (ids, numbers, batch sizes)", async () => {
    const requests = fc
      .tuple(
        fc.oneof(
          { weight: 12, arbitrary: fc.constant("GET") },
          { weight: 1, arbitrary: fc.constantFrom("POST", "PUT", "DELETE", "HEAD", "OPTIONS") },
        ),
        streamIds,
        eventNumbers,
        eventNumbers,
        pathNoise,
        auth(),
      )
      .map(([method, sid, n, b, noise, a]) =>
        request(method, noise(`/api/v1/stream/${sid}/${n}/${b}`), [a, [["X-Long-Poll", "0"]]]),
      );
    await assertEveryAnswer(port, requests, checkRead);
    await stack.assertAlive();
  }, 300_000);

  it("X-Long-Poll: garbage, out of range, repeated (read from -1 of a stream with events)", async () => {
    const longPoll = headerSet(
      "X-Long-Poll",
      fc.oneof(
        fc.constantFrom(
          "0",
          "5",
          "60",
          "60.0",
          "60.001",
          "61",
          "-1",
          "-0",
          "1e1",
          "0x5",
          "5s",
          "Infinity",
          "NaN",
          "",
          " 5 ",
          "5,5",
          "٥",
          "999999999999",
        ),
        fc.double().map(String),
        hostileString.map(wireSafe),
      ),
    );
    const requests = fc
      .tuple(longPoll, auth())
      .map(([lp, a]) => request("GET", "/api/v1/stream/algorithm-1/-1/10", [a, lp]));
    await assertEveryAnswer(port, requests, checkRead);
    await stack.assertAlive();
  }, 300_000);

  it("GET /api/v1/stream/:stream_id/ (the most recent ten)", async () => {
    const requests = fc
      .tuple(streamIds, fc.constantFrom("/", ""), pathNoise, auth())
      .map(([sid, slash, noise, a]) => request("GET", noise(`/api/v1/stream/${sid}${slash}`), [a]));
    await assertEveryAnswer(port, requests, checkRead);
    await stack.assertAlive();
  }, 300_000);

  it("GET /api/v1/ideas/:channel and /api/v1/ideas/:channel/:idea_id", async () => {
    const requests = fc
      .tuple(
        pathSegment(["a-ideas", "b-ideas", "no-such-channel"]),
        fc.option(pathSegment(["2d1885ed419f4b758dc5f75183dea485", "nope"]), { freq: 2 }),
        pathNoise,
        auth(),
      )
      .map(([channel, idea, noise, a]) =>
        request("GET", noise(idea === null ? `/api/v1/ideas/${channel}` : `/api/v1/ideas/${channel}/${idea}`), [a]),
      );
    await assertEveryAnswer(port, requests, checkRead);
    await stack.assertAlive();
  }, 300_000);
});
