import { gunzipSync } from "node:zlib";
import { type ErrorBody, STREAM_HEAD_HEADER, STREAM_STATUS_HEADER } from "@heliograph/contracts";
import { waitFor } from "@heliograph/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GatewayFixture, startGatewayFixture } from "../test/gateway-fixture.js";

let fx: GatewayFixture;
let token: string;
const FIVE = "ideas-five";
const BIG = "ideas-big";
const HALTED = "ideas-halted";
const EMPTY = "ideas-empty";
const OTHER = "ideas-other";
const HALTS_LATER = "ideas-halts-later";
/** How late past its bound a held poll may answer on a loaded machine and still count as on time. */
const LATE_MS = 4_000;

const get = (path: string, headers: Record<string, string> = {}, bearer: string | null = token) =>
  fetch(`${fx.url}${path}`, {
    headers: { ...(bearer === null ? {} : { authorization: `Bearer ${bearer}` }), ...headers },
  });

async function events(res: Response): Promise<{ event_number: number }[]> {
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  return (await res.json()) as { event_number: number }[];
}

async function errorOf(res: Response): Promise<ErrorBody["error"]> {
  return ((await res.json()) as ErrorBody).error;
}

beforeAll(async () => {
  fx = await startGatewayFixture();
  token = await fx.tokenFor([FIVE, BIG, HALTED, EMPTY, HALTS_LATER]);
  for (let i = 0; i < 5; i++) await fx.sequencer.append(FIVE);
  await fx.sequencer.appendHistory(BIG, 1200, { comment: "x".repeat(200) });
  await fx.sequencer.appendHistory(HALTED, 3);
  await fx.sequencer.halt(HALTED);
});

afterAll(async () => {
  await fx?.close();
});

describe("the trade-ideas document's semantics", () => {
  it("/3/5 on a stream of events 0..4 answers at once with event 4", async () => {
    const t0 = performance.now();
    const res = await get(`/api/v1/stream/${FIVE}/3/5`, { "x-long-poll": "10" });
    const body = await events(res);
    // Not held: far from its 10 s bound.
    expect(performance.now() - t0).toBeLessThan(5_000);
    expect(body.map((e) => e.event_number)).toEqual([4]);
    expect(res.headers.get(STREAM_HEAD_HEADER)).toBe("4");
    expect(res.headers.get(STREAM_STATUS_HEADER)).toBe("live");
    expect(body[0]).toMatchObject({ event_type: "IdeaOpened", data: { id: "idea-4" } });
  });

  it("/-1/5 answers events 0..4, and the body is the stored texts as they are", async () => {
    const res = await get(`/api/v1/stream/${FIVE}/-1/5`);
    const text = await res.text();
    const stored = await fx.redis.xrange(`hg:{${FIVE}}:log`, "-", "+");
    expect(text).toBe(`[${stored.map(([, f]) => f[1]).join(",")}]`);
    expect((JSON.parse(text) as { event_number: number }[]).map((e) => e.event_number)).toEqual([0, 1, 2, 3, 4]);
  });

  it("a batch smaller than what exists answers the batch", async () => {
    const body = await events(await get(`/api/v1/stream/${FIVE}/0/2`));
    expect(body.map((e) => e.event_number)).toEqual([1, 2]);
  });

  it("/4/5 with X-Long-Poll: 1 holds for about a second, then answers [] with the head", async () => {
    const t0 = performance.now();
    const res = await get(`/api/v1/stream/${FIVE}/4/5`, { "x-long-poll": "1" });
    const text = await res.text();
    const elapsed = performance.now() - t0;
    expect(res.status).toBe(200);
    expect(text).toBe("[]");
    expect(res.headers.get(STREAM_HEAD_HEADER)).toBe("4");
    expect(elapsed).toBeGreaterThanOrEqual(990);
    expect(elapsed).toBeLessThan(1_000 + LATE_MS);
  });

  it("X-Long-Poll: 0 answers [] at once", async () => {
    const t0 = performance.now();
    const body = await events(await get(`/api/v1/stream/${FIVE}/4/5`, { "x-long-poll": "0" }));
    expect(body).toEqual([]);
    // Not held for the default 5 s bound.
    expect(performance.now() - t0).toBeLessThan(2_500);
  });

  it("a stream with no events answers [] with head -1", async () => {
    const res = await get(`/api/v1/stream/${EMPTY}/-1/5`, { "x-long-poll": "0.1" });
    expect(await events(res)).toEqual([]);
    expect(res.headers.get(STREAM_HEAD_HEADER)).toBe("-1");
  });

  it("batch_size above 1000 is capped at 1000", async () => {
    const body = await events(await get(`/api/v1/stream/${BIG}/-1/5000`));
    expect(body).toHaveLength(1000);
    expect(body[0]?.event_number).toBe(0);
    expect(body[999]?.event_number).toBe(999);
    const rest = await events(await get(`/api/v1/stream/${BIG}/999/5000`));
    expect(rest.map((e) => e.event_number)).toEqual(Array.from({ length: 200 }, (_, i) => 1000 + i));
  });
});

describe("the most recent ten", () => {
  it("answers the last ten events, oldest first, with and without the trailing slash", async () => {
    for (const path of [`/api/v1/stream/${BIG}/`, `/api/v1/stream/${BIG}`]) {
      const res = await get(path);
      const body = await events(res);
      expect(body.map((e) => e.event_number)).toEqual(Array.from({ length: 10 }, (_, i) => 1190 + i));
      expect(res.headers.get(STREAM_HEAD_HEADER)).toBe("1199");
    }
  });

  it("answers all of a short stream, and [] for an empty one", async () => {
    expect((await events(await get(`/api/v1/stream/${FIVE}/`))).map((e) => e.event_number)).toEqual([0, 1, 2, 3, 4]);
    expect(await events(await get(`/api/v1/stream/${EMPTY}/`))).toEqual([]);
  });
});

describe("bad parameters get a 400 naming the problem", () => {
  const cases: [string, string, Record<string, string>, string, string][] = [
    ["event_number abc", `/api/v1/stream/${FIVE}/abc/5`, {}, "EVENT_NUMBER_INVALID", "params.event_number"],
    ["event_number -2", `/api/v1/stream/${FIVE}/-2/5`, {}, "EVENT_NUMBER_INVALID", "params.event_number"],
    ["event_number 1.5", `/api/v1/stream/${FIVE}/1.5/5`, {}, "EVENT_NUMBER_INVALID", "params.event_number"],
    [
      "event_number too large",
      `/api/v1/stream/${FIVE}/99999999999999999999/5`,
      {},
      "EVENT_NUMBER_INVALID",
      "params.event_number",
    ],
    ["batch_size 0", `/api/v1/stream/${FIVE}/-1/0`, {}, "BATCH_SIZE_INVALID", "params.batch_size"],
    ["batch_size -1", `/api/v1/stream/${FIVE}/-1/-1`, {}, "BATCH_SIZE_INVALID", "params.batch_size"],
    ["batch_size x", `/api/v1/stream/${FIVE}/-1/x`, {}, "BATCH_SIZE_INVALID", "params.batch_size"],
    [
      "X-Long-Poll abc",
      `/api/v1/stream/${FIVE}/4/5`,
      { "x-long-poll": "abc" },
      "LONG_POLL_INVALID",
      "headers.x-long-poll",
    ],
    [
      "X-Long-Poll -1",
      `/api/v1/stream/${FIVE}/4/5`,
      { "x-long-poll": "-1" },
      "LONG_POLL_INVALID",
      "headers.x-long-poll",
    ],
    [
      "X-Long-Poll 61",
      `/api/v1/stream/${FIVE}/4/5`,
      { "x-long-poll": "61" },
      "LONG_POLL_INVALID",
      "headers.x-long-poll",
    ],
    [
      "X-Long-Poll 1e3",
      `/api/v1/stream/${FIVE}/4/5`,
      { "x-long-poll": "1e3" },
      "LONG_POLL_INVALID",
      "headers.x-long-poll",
    ],
    [
      "X-Long-Poll list",
      `/api/v1/stream/${FIVE}/4/5`,
      { "x-long-poll": "1, 2" },
      "LONG_POLL_INVALID",
      "headers.x-long-poll",
    ],
    ["stream id UPPER", "/api/v1/stream/UPPER/-1/5", {}, "STREAM_ID_INVALID", "params.stream_id"],
    ["stream id a/b", "/api/v1/stream/a%2Fb/-1/5", {}, "STREAM_ID_INVALID", "params.stream_id"],
    ["stream id too long", `/api/v1/stream/${"a".repeat(65)}/-1/5`, {}, "STREAM_ID_INVALID", "params.stream_id"],
    ["recent: stream id UPPER", "/api/v1/stream/UPPER/", {}, "STREAM_ID_INVALID", "params.stream_id"],
  ];
  it.each(cases)("%s", async (_name, path, headers, code, detailPath) => {
    const res = await get(path, headers);
    expect(res.status).toBe(400);
    const error = await errorOf(res);
    expect(error.code).toBe(code);
    expect(error.details[0]?.path).toBe(detailPath);
    expect(error.message.length).toBeGreaterThan(0);
  });
});

describe("authentication and entitlement", () => {
  it("401 AUTH_MISSING without a bearer token, AUTH_INVALID with a bad one", async () => {
    for (const path of [`/api/v1/stream/${FIVE}/-1/5`, `/api/v1/stream/${FIVE}/`]) {
      const missing = await get(path, {}, null);
      expect(missing.status).toBe(401);
      expect((await errorOf(missing)).code).toBe("AUTH_MISSING");
      const bad = await get(path, {}, "hgt_not-a-real-token");
      expect(bad.status).toBe(401);
      expect((await errorOf(bad)).code).toBe("AUTH_INVALID");
    }
  });

  it("403 STREAM_FORBIDDEN for a stream not entitled, whether or not it exists", async () => {
    await fx.sequencer.appendHistory(OTHER, 2);
    for (const path of [
      `/api/v1/stream/${OTHER}/-1/5`,
      `/api/v1/stream/${OTHER}/`,
      "/api/v1/stream/never-written/-1/5",
      "/api/v1/stream/never-written/",
    ]) {
      const res = await get(path);
      expect(res.status).toBe(403);
      expect((await errorOf(res)).code).toBe("STREAM_FORBIDDEN");
    }
  });
});

describe("a halted stream", () => {
  it("serves what exists and says halted", async () => {
    const res = await get(`/api/v1/stream/${HALTED}/-1/5`);
    expect((await events(res)).map((e) => e.event_number)).toEqual([0, 1, 2]);
    expect(res.headers.get(STREAM_STATUS_HEADER)).toBe("halted");
    expect(res.headers.get(STREAM_HEAD_HEADER)).toBe("2");
    const recent = await get(`/api/v1/stream/${HALTED}/`);
    expect(recent.headers.get(STREAM_STATUS_HEADER)).toBe("halted");
  });

  it("a long poll at its end holds, then answers [] saying halted", async () => {
    const t0 = performance.now();
    const res = await get(`/api/v1/stream/${HALTED}/2/5`, { "x-long-poll": "0.5" });
    expect(await events(res)).toEqual([]);
    const elapsed = performance.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(490);
    expect(elapsed).toBeLessThan(500 + LATE_MS);
    expect(res.headers.get(STREAM_STATUS_HEADER)).toBe("halted");
    expect(res.headers.get(STREAM_HEAD_HEADER)).toBe("2");
  });
});

describe("a stream halted while a poll is held", () => {
  it("answers [] at the bound saying halted, not the status read when the wait began", async () => {
    await fx.sequencer.appendHistory(HALTS_LATER, 2);
    const t0 = performance.now();
    const pending = get(`/api/v1/stream/${HALTS_LATER}/1/5`, { "x-long-poll": "0.8" });
    await waitFor(() => fx.app.hub.stats().waiters === 1, { what: "a held poll" });
    await fx.sequencer.halt(HALTS_LATER);
    const res = await pending;
    expect(await events(res)).toEqual([]);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(790);
    expect(res.headers.get(STREAM_STATUS_HEADER)).toBe("halted");
    expect(res.headers.get(STREAM_HEAD_HEADER)).toBe("1");
  });
});

describe("compression", () => {
  it("gzips a large batch when the client accepts gzip", async () => {
    const res = await get(`/api/v1/stream/${BIG}/-1/1000`, { "accept-encoding": "gzip" });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-encoding")).toBe("gzip");
    // fetch decodes it; check the wire bytes are gzip by asking again through a raw reader.
    const body = (await res.json()) as unknown[];
    expect(body).toHaveLength(1000);
  });

  it("sends gzip bytes on the wire and leaves small answers alone", async () => {
    const { request } = await import("node:http");
    const raw = (path: string) =>
      new Promise<{ headers: Record<string, unknown>; bytes: Buffer }>((resolve, reject) => {
        const req = request(
          `${fx.url}${path}`,
          { headers: { authorization: `Bearer ${token}`, "accept-encoding": "gzip" } },
          (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () => resolve({ headers: res.headers, bytes: Buffer.concat(chunks) }));
          },
        );
        req.on("error", reject);
        req.end();
      });
    const big = await raw(`/api/v1/stream/${BIG}/-1/1000`);
    expect(big.headers["content-encoding"]).toBe("gzip");
    const plain = gunzipSync(big.bytes).toString("utf8");
    expect(JSON.parse(plain)).toHaveLength(1000);
    expect(big.bytes.length).toBeLessThan(plain.length / 5);
    const small = await raw(`/api/v1/stream/${FIVE}/3/5`);
    expect(small.headers["content-encoding"]).toBeUndefined();
    expect(JSON.parse(small.bytes.toString("utf8"))).toHaveLength(1);
  });
});

describe("load shedding", () => {
  it("answers 503 SERVICE_UNAVAILABLE with Retry-After: 1 beyond MAX_WAITERS", async () => {
    // Both held by one token: its share is the whole process here.
    const small = await fx.extraApp(2, { MAX_WAITERS_PER_SUBSCRIBER: 2 });
    const controllers = [new AbortController(), new AbortController()];
    const held = controllers.map((c) =>
      fetch(`${small.url}/api/v1/stream/${FIVE}/4/5`, {
        headers: { authorization: `Bearer ${token}`, "x-long-poll": "10" },
        signal: c.signal,
      }).catch(() => undefined),
    );
    await waitFor(() => small.app.hub.stats().waiters === 2, { what: "two held polls" });
    const shed = await fetch(`${small.url}/api/v1/stream/${FIVE}/4/5`, {
      headers: { authorization: `Bearer ${token}`, "x-long-poll": "10" },
    });
    expect(shed.status).toBe(503);
    expect(shed.headers.get("retry-after")).toBe("1");
    expect((await errorOf(shed)).code).toBe("SERVICE_UNAVAILABLE");
    // Reads that need no wait are still served.
    const immediate = await fetch(`${small.url}/api/v1/stream/${FIVE}/3/5`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(immediate.status).toBe(200);
    for (const c of controllers) c.abort();
    await Promise.all(held);
    await waitFor(() => small.app.hub.stats().waiters === 0, { what: "waiters dropped" });
    await small.app.close();
  });
});

describe("shutdown", () => {
  it("answers held polls with [] at once when the app closes", async () => {
    const other = await fx.extraApp(100);
    const t0 = performance.now();
    const pending = fetch(`${other.url}/api/v1/stream/${FIVE}/4/5`, {
      headers: { authorization: `Bearer ${token}`, "x-long-poll": "30" },
    });
    await waitFor(() => other.app.hub.stats().waiters === 1, { what: "a held poll" });
    await other.app.close();
    const res = await pending;
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("[]");
    expect(res.headers.get("connection")).toBe("close");
    // Released by the close, not at its 30 s bound.
    expect(performance.now() - t0).toBeLessThan(15_000);
    expect(other.app.hub.stats().consumers).toBe(0);
  });
});
