// Redis comes back behind EVENTS (FLUSHALL, a restore from an older snapshot, a restart with an
// empty data folder): reads must still answer what EVENTS holds (issue 9, item 3).
import { rmSync } from "node:fs";
import { join } from "node:path";
import {
  partitionOf,
  STREAM_HEAD_HEADER,
  type StreamId,
  VERIFY_SUBJECT_PREFIX,
  verifySubject,
} from "@heliograph/contracts";
import { LOG_EVENT_FIELD, LOG_INGEST_FIELD, logEntryId, streamKeys } from "@heliograph/store";
import { flushAllRedis, testsOnRedisCluster, waitFor } from "@heliograph/testkit";
import type { Subscription } from "@nats-io/nats-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GatewayFixture, startGatewayFixture } from "../test/gateway-fixture.js";

let fx: GatewayFixture;
let token: string;
let verifySub: Subscription;
/** Every verify request seen: `<subject> <stream id>`. */
const verifyRequests: string[] = [];

const PARTIAL = "ideas-partial";
const FLUSHED = "ideas-flushed";
/** Never read before the FLUSHALL: its first read in the gateway comes after it. */
const FLUSHED_COLD = "ideas-flushed-cold";
const RESTARTED = "ideas-restarted";
/** Read once only, to show the JetStream request of a first read. */
const FIRST_READ = "ideas-first-read";
const ALL = [PARTIAL, FLUSHED, FLUSHED_COLD, RESTARTED, FIRST_READ];

/** What each stream's EVENTS subject holds, in order. */
const record = new Map<StreamId, string[]>();

const get = (path: string, longPoll = "0") =>
  fetch(`${fx.url}${path}`, { headers: { authorization: `Bearer ${token}`, "x-long-poll": longPoll } });

interface Answer {
  status: number;
  body: string;
  head: string | null;
  retryAfter: string | null;
}

async function answerOf(res: Response): Promise<Answer> {
  return {
    status: res.status,
    body: await res.text(),
    head: res.headers.get(STREAM_HEAD_HEADER),
    retryAfter: res.headers.get("retry-after"),
  };
}

const read = async (sid: StreamId, after: number, batch: number, longPoll = "0") =>
  answerOf(await get(`/api/v1/stream/${sid}/${after}/${batch}`, longPoll));
const recent = async (sid: StreamId) => answerOf(await get(`/api/v1/stream/${sid}/`));
const idea = async (sid: StreamId, ideaId: string) =>
  answerOf(await get(`/api/v1/ideas/${sid.replace(/^ideas-/, "")}/${ideaId}`));
const openIdeas = async (sid: StreamId) => answerOf(await get(`/api/v1/ideas/${sid.replace(/^ideas-/, "")}`));

/** The JSON array of EVENTS' events from..to of a stream, as the sequencer wrote them. */
function recorded(sid: StreamId, from: number, to: number): string {
  return `[${(record.get(sid) ?? []).slice(from, to + 1).join(",")}]`;
}

const numbersOf = (body: string) => (JSON.parse(body) as { event_number: number }[]).map((e) => e.event_number);

async function appendRecorded(sid: StreamId, count: number): Promise<void> {
  const texts = await fx.sequencer.appendRecorded(sid, count);
  record.set(sid, [...(record.get(sid) ?? []), ...texts]);
}

/** After a Redis loss the subscriber (still in Redis here) is gone too: a new one. */
async function entitle(): Promise<void> {
  token = await fx.tokenFor(ALL);
}

const waitersAre = (n: number) =>
  waitFor(() => fx.app.hub.stats().waiters === n, { what: `${n} waiters (now ${fx.app.hub.stats().waiters})` });

async function streamKeyNames(sid: StreamId): Promise<string[]> {
  const keys = streamKeys(sid);
  return [keys.log, keys.head, keys.status, keys.ideas, keys.ideaState, keys.openIdeas];
}

/** A snapshot of one stream's keys, as an older Redis backup holds them. */
async function snapshot(sid: StreamId): Promise<Map<string, Buffer>> {
  const dump = new Map<string, Buffer>();
  for (const key of await streamKeyNames(sid)) {
    const value = await fx.redis.dumpBuffer(key);
    if (value) dump.set(key, value);
  }
  return dump;
}

async function restore(sid: StreamId, dump: Map<string, Buffer>): Promise<void> {
  await fx.redis.del(...(await streamKeyNames(sid)));
  for (const [key, value] of dump) await fx.redis.restore(key, 0, value, "REPLACE");
}

function expectVerifyRequest(sid: StreamId): Promise<unknown> {
  const wanted = `${verifySubject(partitionOf(sid))} ${sid}`;
  return waitFor(() => verifyRequests.includes(wanted), { what: `a verify request ${wanted}` });
}

/** Every read a behind stream must answer from EVENTS; `last` is EVENTS' last event number. */
async function expectReadsFromTheRecord(sid: StreamId, last: number): Promise<void> {
  // From the start: exactly EVENTS' events, in order, and the head EVENTS holds.
  const all = await read(sid, -1, 1_000);
  expect(all.status).toBe(200);
  expect(numbersOf(all.body)).toEqual(Array.from({ length: last + 1 }, (_, i) => i));
  expect(all.body).toBe(recorded(sid, 0, last));
  expect(all.head).toBe(String(last));

  // From the middle, past what Redis holds: the next events, never [] (X-Long-Poll would show it).
  const middle = await read(sid, 14, 5, "2");
  expect(middle.body).toBe(recorded(sid, 15, 19));
  expect(middle.head).toBe(String(last));

  // A batch that ends at the head.
  const tail = await read(sid, last - 3, 10);
  expect(tail.body).toBe(recorded(sid, last - 2, last));

  // The most recent ten are EVENTS' last ten.
  const ten = await recent(sid);
  expect(ten.status).toBe(200);
  expect(ten.body).toBe(recorded(sid, last - 9, last));
  expect(ten.head).toBe(String(last));

  // At the head, a short poll answers [] with EVENTS' head, not Redis's.
  const atHead = await read(sid, last, 5, "0.3");
  expect(atHead.body).toBe("[]");
  expect(atHead.head).toBe(String(last));
}

/** Idea states live in Redis only: while it is behind they are refused with a retry, never wrong. */
async function expectIdeasRefused(sid: StreamId, ideaId: string): Promise<void> {
  for (const answer of [await idea(sid, ideaId), await openIdeas(sid)]) {
    expect(answer.status).toBe(503);
    expect(JSON.parse(answer.body)).toMatchObject({ error: { code: "SERVICE_UNAVAILABLE" } });
    expect(Number(answer.retryAfter)).toBeGreaterThan(0);
  }
}

/** A long poll at EVENTS' head is held, then answered by the next event EVENTS stores. */
async function expectLongPollAnswered(sid: StreamId, last: number): Promise<void> {
  const bounded = await read(sid, last, 5, "0.3");
  expect(bounded.body).toBe("[]");
  expect(bounded.head).toBe(String(last));
  const pending = read(sid, last, 5, "20");
  await waitersAre(1);
  const text = await fx.sequencer.recordOnly(sid, last + 1);
  record.get(sid)?.push(text);
  const answer = await pending;
  expect(answer.body).toBe(`[${text}]`);
  expect(answer.head).toBe(String(last + 1));
  await waitersAre(0);
  // Read again, as a follower that lost the answer would: the same event under the same number.
  const again = await read(sid, last, 5);
  expect(again.body).toBe(`[${text}]`);
  expect(again.head).toBe(String(last + 1));
}

beforeAll(async () => {
  fx = await startGatewayFixture();
  await entitle();
  verifySub = fx.nc.subscribe(`${VERIFY_SUBJECT_PREFIX}.>`, {
    callback: (err, msg) => {
      if (!err) verifyRequests.push(`${msg.subject} ${msg.string()}`);
    },
  });
  await fx.nc.flush();
});

afterAll(async () => {
  verifySub?.unsubscribe();
  await fx?.close();
});

describe("Redis restored from an older snapshot of one stream (no reconnect)", () => {
  let older: Map<string, Buffer>;
  let full: Map<string, Buffer>;

  beforeAll(async () => {
    await appendRecorded(PARTIAL, 12);
    older = await snapshot(PARTIAL);
    await appendRecorded(PARTIAL, 18);
    full = await snapshot(PARTIAL);
    // Read while Redis holds everything: the gateway has verified the stream.
    expect((await read(PARTIAL, -1, 1_000)).head).toBe("29");
    expect((await idea(PARTIAL, "idea-20")).status).toBe(200);
    await restore(PARTIAL, older);
    expect(await fx.redis.get(streamKeys(PARTIAL).head)).toBe("11");
  });

  it("reads answer EVENTS' events and head, from the start, the middle, the recent ten and at the head", async () => {
    await expectReadsFromTheRecord(PARTIAL, 29);
    // Within what Redis still holds, the same events.
    expect((await read(PARTIAL, 4, 3)).body).toBe(recorded(PARTIAL, 5, 7));
  });

  it("asks the stream's sequencer to verify it, on the partition's verify subject", async () => {
    await expectVerifyRequest(PARTIAL);
  });

  it("idea states are refused with 503 and Retry-After", async () => {
    await expectIdeasRefused(PARTIAL, "idea-20");
  });

  it("a long poll at EVENTS' head waits and gets the next event", async () => {
    await expectLongPollAnswered(PARTIAL, 29);
  });

  it("once Redis has caught up, reads are Redis's again and cost no JetStream request", async () => {
    // What the sequencer's repair leaves: every event EVENTS holds (30 is only in EVENTS here).
    await restore(PARTIAL, full);
    const thirty = record.get(PARTIAL)?.[30] as string;
    await fx.redis.xadd(streamKeys(PARTIAL).log, logEntryId(30), LOG_EVENT_FIELD, thirty, LOG_INGEST_FIELD, "ing-30");
    await fx.redis.set(streamKeys(PARTIAL).head, "30");
    expect((await read(PARTIAL, -1, 1_000)).body).toBe(recorded(PARTIAL, 0, 30));
    expect((await idea(PARTIAL, "idea-20")).status).toBe(200);

    const jsApi: string[] = [];
    const spy = fx.nc.subscribe("$JS.API.>", {
      callback: (_err, msg) => {
        // The hub's own pull requests renew themselves, and this fixture reads the control plane
        // uncached (KV_heliograph-control); anything else would be a read's look at EVENTS.
        if (!msg.subject.startsWith("$JS.API.CONSUMER.MSG.NEXT.") && !msg.subject.includes("KV_heliograph-control"))
          jsApi.push(msg.subject);
      },
    });
    await fx.nc.flush();
    // The spy sees a read's request: the first read of a stream compares it with EVENTS.
    await read(FIRST_READ, -1, 10);
    await waitFor(() => jsApi.includes("$JS.API.STREAM.MSG.GET.EVENTS"), { what: "the first read's request" });
    jsApi.length = 0;
    for (let i = 0; i < 5; i++) {
      expect((await read(PARTIAL, 25, 10)).body).toBe(recorded(PARTIAL, 26, 30));
      expect((await recent(PARTIAL)).body).toBe(recorded(PARTIAL, 21, 30));
      expect((await idea(PARTIAL, "idea-20")).status).toBe(200);
    }
    await fx.nc.flush();
    spy.unsubscribe();
    expect(jsApi).toEqual([]);
  });
});

describe("Redis flushed (FLUSHALL, no reconnect)", () => {
  beforeAll(async () => {
    await appendRecorded(FLUSHED, 30);
    await appendRecorded(FLUSHED_COLD, 30);
    expect((await read(FLUSHED, 20, 5)).head).toBe("29");
    await flushAllRedis(fx.redis);
    await entitle();
  });

  it("reads of a stream read before the flush answer EVENTS' events and head", async () => {
    await expectReadsFromTheRecord(FLUSHED, 29);
  });

  it("reads of a stream first read after the flush answer EVENTS' events and head", async () => {
    await expectReadsFromTheRecord(FLUSHED_COLD, 29);
  });

  it("asks for verification of each, and refuses their idea states", async () => {
    await expectVerifyRequest(FLUSHED);
    await expectVerifyRequest(FLUSHED_COLD);
    await expectIdeasRefused(FLUSHED, "idea-3");
    await expectIdeasRefused(FLUSHED_COLD, "idea-3");
  });

  it("a long poll at EVENTS' head waits and gets the next event", async () => {
    await expectLongPollAnswered(FLUSHED, 29);
  });

  it("a long poll behind the event that wakes it gets every event it missed, from EVENTS", async () => {
    const pending = read(FLUSHED_COLD, 27, 10, "20");
    // Answered at once: events 28 and 29 exist in EVENTS.
    expect((await pending).body).toBe(recorded(FLUSHED_COLD, 28, 29));
  });
});

// One server's data folder emptied: a cluster's nodes would not rejoin without their nodes.conf.
describe.skipIf(testsOnRedisCluster)("Redis restarted with an empty data folder (reconnect)", () => {
  beforeAll(async () => {
    await appendRecorded(RESTARTED, 20);
    expect((await read(RESTARTED, -1, 100)).head).toBe("19");
    await fx.redisServer.stop();
    for (const entry of ["appendonlydir", "dump.rdb"])
      rmSync(join(fx.redisServer.dir, entry), { recursive: true, force: true });
    await fx.redisServer.restart();
    await waitFor(async () => (await fx.redis.ping()) === "PONG", { what: "the gateway's Redis client to reconnect" });
    await entitle();
  });

  it("reads answer EVENTS' events and head, and a verification is asked for", async () => {
    expect(await fx.redis.get(streamKeys(RESTARTED).head)).toBeNull();
    await expectReadsFromTheRecord(RESTARTED, 19);
    await expectVerifyRequest(RESTARTED);
  });

  it("a long poll at EVENTS' head waits and gets the next event", async () => {
    await expectLongPollAnswered(RESTARTED, 19);
  });
});
