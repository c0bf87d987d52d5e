import {
  DEFAULT_PARTITION_COUNT,
  EVENT_INGEST_ID_HEADER,
  EVENTS_STREAM,
  eventsSubject,
  partitionOf,
  type StreamId,
  verifySubject,
} from "@heliograph/contracts";
import {
  createLogger,
  createMetricsRegistry,
  JetStreamPublishError,
  JetStreamPublisher,
  WRONG_LAST_SEQUENCE,
} from "@heliograph/platform";
import { LOG_EVENT_FIELD, lastRecordedEvent, readHead, streamKeys } from "@heliograph/store";
import { flushAllRedis, waitFor } from "@heliograph/testkit";
import { beforeAll, describe, expect, it } from "vitest";
import { ingestMessage, publishIngest, readNumbered } from "../test/ingest-fixture.js";
import { type SequencerInstance, useSequencerServers } from "../test/sequencer-fixture.js";
import { EventsWriter, RecordConflictError } from "./events-writer.js";
import { createMetrics } from "./metrics.js";

const log = createLogger({ name: "sequencer-test", level: process.env.TEST_LOG_LEVEL ?? "error" });

/** EVENTS is the record (docs/architecture.md, promise 1): Redis coming back behind loses and renumbers nothing. */
describe("sequencer with Redis behind EVENTS", () => {
  const { ctx, start } = useSequencerServers(log);
  let instance: SequencerInstance;

  beforeAll(async () => {
    instance = await start("seq-record");
  });

  async function publish(streamId: StreamId, from: number, to: number) {
    for (let k = from; k < to; k++) await publishIngest(ctx.js, ingestMessage(streamId, `${streamId}-${k}`, k));
  }

  async function headReaches(streamId: StreamId, head: number) {
    await waitFor(async () => (await lastRecordedEvent(ctx.jsm, streamId))?.eventNumber === head, {
      what: `EVENTS ${streamId} at ${head}`,
    });
  }

  /** EVENTS and Redis's log hold 0..count-1 in publish order, the same texts, each ingest id once. */
  async function expectRecordAndRedisAgree(streamId: StreamId, count: number) {
    const { texts, events, published } = await readNumbered(ctx.redis, ctx.js, streamId);
    expect(published.map((t) => JSON.parse(t).event_number)).toEqual([...Array(count).keys()]);
    expect(events.map((e) => e.data.k)).toEqual([...Array(count).keys()]);
    expect(texts).toEqual(published);
  }

  const counter = (name: string) => async () =>
    Number((await instance.metrics.getSingleMetricAsString(name)).match(/} (\d+)$/m)?.[1] ?? 0);

  it("numbers on after a FLUSHALL from where EVENTS is, and rebuilds Redis's log from it", async () => {
    const sid = "record-flush";
    await publish(sid, 0, 40);
    await headReaches(sid, 39);
    await flushAllRedis(ctx.redis);
    expect(await readHead(ctx.redis, sid)).toBe(-1);

    await publish(sid, 40, 60);
    await headReaches(sid, 59);
    await expectRecordAndRedisAgree(sid, 60);
    expect(await counter("heliograph_sequencer_replayed_events_total")()).toBeGreaterThanOrEqual(40);
  });

  it("numbers on after Redis went back to an older state of the stream, losing nothing it had acknowledged", async () => {
    const sid = "record-behind";
    const keys = Object.values(streamKeys(sid)).filter((k) => !k.endsWith(":"));
    await publish(sid, 0, 30);
    await headReaches(sid, 29);
    // What a restore from an older snapshot leaves: the stream's keys as they were at 29.
    const dumps = await Promise.all(keys.map(async (key) => [key, await ctx.redis.dumpBuffer(key)] as const));
    await publish(sid, 30, 50);
    await headReaches(sid, 49);
    for (const [key, dump] of dumps) {
      if (dump) await ctx.redis.restore(key, 0, dump, "REPLACE");
      else await ctx.redis.del(key);
    }
    expect(await readHead(ctx.redis, sid)).toBe(29);

    await publish(sid, 50, 70);
    await headReaches(sid, 69);
    await expectRecordAndRedisAgree(sid, 70);
  });

  it("answers a verify request for an idle stream by replaying what Redis lacks", async () => {
    const sid = "record-idle";
    await publish(sid, 0, 25);
    await headReaches(sid, 24);
    await ctx.redis.del(...Object.values(streamKeys(sid)).filter((k) => !k.endsWith(":")));
    // What the stream gateway sends when it finds a stream's Redis behind EVENTS.
    ctx.nc.publish(verifySubject(partitionOf(sid, DEFAULT_PARTITION_COUNT)), sid);
    await waitFor(async () => (await readHead(ctx.redis, sid)) === 24, { what: "Redis replayed" });
    const entries = await ctx.redis.xrange(streamKeys(sid).log, "-", "+");
    const { published } = await readNumbered(ctx.redis, ctx.js, sid);
    expect(entries.map(([, f]) => f[f.indexOf(LOG_EVENT_FIELD) + 1])).toEqual(published);
  });
});

describe("EVENTS writes are conditional", () => {
  const { ctx } = useSequencerServers(log);

  function writer() {
    return new EventsWriter({
      publisher: new JetStreamPublisher(ctx.nc, 5_000),
      jsm: ctx.jsm,
      log,
      metrics: createMetrics(createMetricsRegistry("sequencer")),
    });
  }
  const event = (sid: StreamId, n: number, tag = "") => ({
    streamId: sid,
    eventNumber: n,
    text: `{"event_number":${n},"event_type":"TradingSignalCreated","data":{"id":"s${n}${tag}"}}`,
    ingestId: `${sid}-${n}${tag}`,
  });
  async function subjectNumbers(sid: StreamId): Promise<number[]> {
    const numbers: number[] = [];
    const consumer = await ctx.js.consumers.get(EVENTS_STREAM, { filter_subjects: eventsSubject(sid) });
    const last = await lastRecordedEvent(ctx.jsm, sid);
    if (!last) return numbers;
    for await (const msg of await consumer.fetch({ max_messages: last.eventNumber + 10, expires: 1_000 })) {
      numbers.push(JSON.parse(msg.string()).event_number);
      expect(msg.headers?.get(EVENT_INGEST_ID_HEADER)).toBe(`${sid}-${JSON.parse(msg.string()).event_number}`);
      if (msg.info.pending === 0) break;
    }
    return numbers;
  }

  it("stores a stream's events in order once, pipelined, and skips what the record holds", async () => {
    const w = writer();
    const sid = "cond-order";
    w.setTip(sid, { eventNumber: -1, seq: 0 });
    await w.write([...Array(200).keys()].map((n) => event(sid, n)));
    // A retry of the whole batch (a redelivery) writes nothing more.
    await w.write([...Array(200).keys()].map((n) => event(sid, n)));
    expect(await subjectNumbers(sid)).toEqual([...Array(200).keys()]);
  });

  it("refuses a stale writer: the record moved on since its tip, so its event n is not stored after n+1", async () => {
    const sid = "cond-stale";
    const live = writer();
    live.setTip(sid, { eventNumber: -1, seq: 0 });
    await live.write([0, 1, 2].map((n) => event(sid, n)));
    const tipAt2 = live.tip(sid)!;
    await live.write([3, 4].map((n) => event(sid, n)));

    // An instance that still believes event 2 is the last one (an old epoch), past the duplicate
    // window as far as JetStream is concerned: a different event 3.
    const stale = writer();
    stale.setTip(sid, tipAt2);
    const publisher = new JetStreamPublisher(ctx.nc, 5_000);
    const refused = await publisher
      .publish(eventsSubject(sid), event(sid, 3, "-stale").text, `${sid}:3-stale`, {
        "Nats-Expected-Last-Subject-Sequence": String(tipAt2.seq),
      })
      .catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(JetStreamPublishError);
    expect((refused as JetStreamPublishError).errCode).toBe(WRONG_LAST_SEQUENCE);
    // Through the writer: the record's event 3 has another ingest id, so it reports a conflict.
    await expect(stale.write([event(sid, 3, "-stale")])).rejects.toBeInstanceOf(RecordConflictError);
    expect(await subjectNumbers(sid)).toEqual([0, 1, 2, 3, 4]);
  });

  it("leaves no gap when another writer stored the stream's previous event where this one expected its next", async () => {
    // A takeover: another instance wrote event 2 right after this writer's last message, and this
    // writer verified the stream (its tip is event 2). Its chained publishes of 3 and 4 must not
    // let 4 follow 2 when 3 is refused: the message after which 4 is stored has to be event 3.
    const sid = "cond-takeover";
    const w = writer();
    w.setTip(sid, { eventNumber: -1, seq: 0 });
    await w.write([0, 1].map((n) => event(sid, n)));
    const other = new JetStreamPublisher(ctx.nc, 5_000);
    await other.publish(eventsSubject(sid), event(sid, 2).text, `${sid}:2`, {
      "Nats-Expected-Last-Subject-Sequence": String(w.tip(sid)!.seq),
      [EVENT_INGEST_ID_HEADER]: event(sid, 2).ingestId,
    });
    const verified = (await lastRecordedEvent(ctx.jsm, sid))!;
    w.setTip(sid, { eventNumber: verified.eventNumber, seq: verified.seq });
    await w.write([3, 4].map((n) => event(sid, n)));
    expect(await subjectNumbers(sid)).toEqual([0, 1, 2, 3, 4]);
  });

  it("keeps order when another writer's messages come between a chain's events", async () => {
    const a = writer();
    const b = writer();
    a.setTip("cond-a", { eventNumber: -1, seq: 0 });
    b.setTip("cond-b", { eventNumber: -1, seq: 0 });
    // Interleaved batches of two writers: each one's messages break the other's chains.
    for (let round = 0; round < 10; round++) {
      await Promise.all([
        a.write([...Array(20).keys()].map((i) => event("cond-a", round * 20 + i))),
        b.write([...Array(20).keys()].map((i) => event("cond-b", round * 20 + i))),
      ]);
    }
    expect(await subjectNumbers("cond-a")).toEqual([...Array(200).keys()]);
    expect(await subjectNumbers("cond-b")).toEqual([...Array(200).keys()]);
  });
});
