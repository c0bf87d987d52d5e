import { EVENT_INGEST_ID_HEADER, EVENTS_STREAM, eventMsgId, eventsSubject, type StreamId } from "@heliograph/contracts";
import { connectNats, createLogger, ensureStreams, type NatsConnection } from "@heliograph/platform";
import { type Servers, startServers } from "@heliograph/testkit";
import { type JetStreamClient, type JetStreamManager, jetstream } from "@nats-io/jetstream";
import { headers } from "@nats-io/nats-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  lastRecordedEvent,
  type RecordedEvent,
  RecordTrimmedError,
  readRecordedEvents,
  recordedSeqOf,
} from "./events-record.js";

let servers: Servers;
let nc: NatsConnection;
let js: JetStreamClient;
let jsm: JetStreamManager;

const A = "rec-a";
const B = "rec-b";
const C = "rec-c";
const EMPTY = "rec-empty";
/** Events 0..9 published, then 0..4 purged from EVENTS, as max_age would. */
const TRIMMED = "rec-trimmed";
/** More events than one fetch of the ordered consumer takes. */
const LONG = "rec-long";
const COUNTS: Record<string, number> = { [A]: 50, [B]: 30, [C]: 10, [TRIMMED]: 10, [LONG]: 2_100 };

/** What was published, per stream: number → { text, ingest id, JetStream sequence }. */
const published = new Map<StreamId, RecordedEvent[]>();

const text = (streamId: StreamId, n: number) =>
  `{"event_number":${n},"event_type":"IdeaOpened","data":{"id":"idea-${n}","stream":"${streamId}"}}`;

async function publish(streamId: StreamId, n: number): Promise<void> {
  const h = headers();
  const ingestId = `ing-${streamId}-${n}`;
  h.set(EVENT_INGEST_ID_HEADER, ingestId);
  const body = text(streamId, n);
  const ack = await js.publish(eventsSubject(streamId), body, { msgID: eventMsgId(streamId, n), headers: h });
  const list = published.get(streamId) ?? [];
  list.push({ eventNumber: n, text: body, ingestId, seq: ack.seq });
  published.set(streamId, list);
}

const numbers = (events: RecordedEvent[]) => events.map((e) => e.eventNumber);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const recordOf = (streamId: StreamId, n: number) => published.get(streamId)?.find((e) => e.eventNumber === n);

/** A read is a handful of round trips: far from a fetch's 2 s expiry, even on a loaded machine. */
const QUICK_MS = 1_500;
async function timed<T>(run: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const result = await run();
  expect(performance.now() - t0).toBeLessThan(QUICK_MS);
  return result;
}

beforeAll(async () => {
  servers = await startServers();
  const log = createLogger({ name: "events-record-test", level: "silent" });
  nc = await connectNats(servers.nats, log, "events-record-test");
  jsm = await ensureStreams(nc, { replicas: 1, log });
  js = jetstream(nc);
  // Interleaved, so each stream's events are spread over EVENTS' sequences between the others'.
  for (let n = 0; n < 50; n++) {
    for (const streamId of [A, B, C, TRIMMED]) if (n < (COUNTS[streamId] ?? 0)) await publish(streamId, n);
    await js.publish(eventsSubject("rec-noise"), text("rec-noise", n));
  }
  for (let n = 0; n < (COUNTS[LONG] as number); n++) await publish(LONG, n);
  const firstKept = recordOf(TRIMMED, 5)?.seq as number;
  await jsm.streams.purge(EVENTS_STREAM, { filter: eventsSubject(TRIMMED), seq: firstKept });
});

afterAll(async () => {
  await nc?.drain();
  await servers?.stop();
});

describe("lastRecordedEvent", () => {
  it("is the stream's last event, with its text, ingest id and sequence", async () => {
    for (const streamId of [A, B, C]) {
      const last = await lastRecordedEvent(jsm, streamId);
      expect(last).toEqual(recordOf(streamId, (COUNTS[streamId] as number) - 1));
    }
  });

  it("is undefined for a stream with no events", async () => {
    expect(await lastRecordedEvent(jsm, EMPTY)).toBeUndefined();
  });
});

describe("recordedSeqOf", () => {
  it("finds the first, a middle and the last event of interleaved streams", async () => {
    for (const streamId of [A, B, C]) {
      const last = (COUNTS[streamId] as number) - 1;
      for (const n of [0, 1, Math.floor(last / 2), last - 1, last]) {
        expect(await timed(() => recordedSeqOf(jsm, streamId, n)), `${streamId} event ${n}`).toBe(
          recordOf(streamId, n)?.seq,
        );
      }
    }
  });

  it("finds every event of a stream", async () => {
    for (let n = 0; n < (COUNTS[B] as number); n++) {
      expect(await recordedSeqOf(jsm, B, n)).toBe(recordOf(B, n)?.seq);
    }
  });

  it("is undefined for a number EVENTS does not hold", async () => {
    expect(await recordedSeqOf(jsm, A, 50)).toBeUndefined();
    expect(await recordedSeqOf(jsm, A, 1_000)).toBeUndefined();
    expect(await recordedSeqOf(jsm, EMPTY, 0)).toBeUndefined();
    // Purged from the front.
    expect(await recordedSeqOf(jsm, TRIMMED, 0)).toBeUndefined();
    expect(await recordedSeqOf(jsm, TRIMMED, 4)).toBeUndefined();
    expect(await recordedSeqOf(jsm, TRIMMED, 5)).toBe(recordOf(TRIMMED, 5)?.seq);
  });
});

describe("readRecordedEvents", () => {
  it("reads a whole stream from -1, in order, with texts and ingest ids, and nothing of other streams", async () => {
    const events = await timed(() => readRecordedEvents(js, jsm, A, -1, 1_000));
    expect(events).toEqual(published.get(A));
    expect(numbers(await timed(() => readRecordedEvents(js, jsm, C, -1, 1_000)))).toEqual(range(0, 9));
  });

  it("reads from the middle", async () => {
    expect(numbers(await timed(() => readRecordedEvents(js, jsm, A, 24, 10)))).toEqual(range(25, 34));
    expect(numbers(await timed(() => readRecordedEvents(js, jsm, B, 0, 1_000)))).toEqual(range(1, 29));
    expect(await timed(() => readRecordedEvents(js, jsm, B, 17, 3))).toEqual(
      [17, 18, 19].map((n) => recordOf(B, n + 1)),
    );
  });

  it("answers at most `count` events", async () => {
    expect(numbers(await timed(() => readRecordedEvents(js, jsm, A, -1, 5)))).toEqual(range(0, 4));
    expect(numbers(await timed(() => readRecordedEvents(js, jsm, A, 48, 1)))).toEqual([49]);
    expect(numbers(await timed(() => readRecordedEvents(js, jsm, A, 39, 10)))).toEqual(range(40, 49));
    expect(await timed(() => readRecordedEvents(js, jsm, A, 10, 0))).toEqual([]);
  });

  it("answers what there is when `count` reaches past the end", async () => {
    expect(numbers(await timed(() => readRecordedEvents(js, jsm, A, 44, 100)))).toEqual(range(45, 49));
    expect(numbers(await timed(() => readRecordedEvents(js, jsm, C, 8, 2)))).toEqual([9]);
  });

  it("answers [] at and past the end, and for a stream with no events", async () => {
    expect(await timed(() => readRecordedEvents(js, jsm, A, 49, 10))).toEqual([]);
    expect(await timed(() => readRecordedEvents(js, jsm, A, 500, 10))).toEqual([]);
    expect(await timed(() => readRecordedEvents(js, jsm, EMPTY, -1, 10))).toEqual([]);
  });

  it("never answers n+1 without n: from before the earliest event EVENTS holds it refuses, naming it", async () => {
    // At once: not after a fetch waited out its expiry for events that are not there.
    await timed(() => expect(readRecordedEvents(js, jsm, TRIMMED, -1, 10)).rejects.toBeInstanceOf(RecordTrimmedError));
    await timed(() => expect(readRecordedEvents(js, jsm, TRIMMED, -1, 10)).rejects.toMatchObject({ earliest: 5 }));
    await timed(() => expect(readRecordedEvents(js, jsm, TRIMMED, 2, 10)).rejects.toMatchObject({ earliest: 5 }));
    expect(numbers(await timed(() => readRecordedEvents(js, jsm, TRIMMED, 4, 10)))).toEqual(range(5, 9));
  });

  it("reads more than one fetch's worth, and from a position found by the search in a long stream", async () => {
    const all = await timed(() => readRecordedEvents(js, jsm, LONG, -1, 5_000));
    expect(all).toEqual(published.get(LONG));
    const last = await lastRecordedEvent(jsm, LONG);
    expect(numbers(await timed(() => readRecordedEvents(js, jsm, LONG, 1_234, 1_000, last)))).toEqual(
      range(1_235, 2_099),
    );
    expect(await recordedSeqOf(jsm, LONG, 777, last)).toBe(recordOf(LONG, 777)?.seq);
  });

  it("leaves no consumer behind", async () => {
    await readRecordedEvents(js, jsm, A, 10, 5);
    const names: string[] = [];
    for await (const ci of jsm.consumers.list(EVENTS_STREAM)) names.push(ci.name);
    expect(names).toEqual([]);
  });

  it("reads events published after it was first called (no stale view)", async () => {
    await publish(C, 10);
    expect(numbers(await timed(() => readRecordedEvents(js, jsm, C, 8, 10)))).toEqual([9, 10]);
    expect((await lastRecordedEvent(jsm, C))?.eventNumber).toBe(10);
    expect(await recordedSeqOf(jsm, C, 10)).toBe(recordOf(C, 10)?.seq);
  });

  it("continues after a known position with one look-up; a wrong position only costs the search", async () => {
    let gets = 0;
    const counting = {
      streams: {
        getMessage: (...args: Parameters<JetStreamManager["streams"]["getMessage"]>) => {
          gets++;
          return jsm.streams.getMessage(...args);
        },
      },
    } as unknown as JetStreamManager;
    const last = await lastRecordedEvent(jsm, A);
    const at20 = { eventNumber: 20, seq: recordOf(A, 20)?.seq as number };
    expect(await readRecordedEvents(js, counting, A, 20, 1, last, undefined, at20)).toEqual([recordOf(A, 21)]);
    expect(gets).toBe(1);
    gets = 0;
    expect(await readRecordedEvents(js, counting, A, 20, 1, last)).toEqual([recordOf(A, 21)]);
    expect(gets).toBeGreaterThan(1);
    // Positions that do not describe this EVENTS (before and past the event): the same answer.
    for (const seq of [1, recordOf(A, 40)?.seq as number])
      expect(await readRecordedEvents(js, counting, A, 20, 1, last, undefined, { eventNumber: 20, seq })).toEqual([
        recordOf(A, 21),
      ]);
    // An earlier event's position narrows the search; the answer is the same.
    expect(
      numbers(
        await readRecordedEvents(js, jsm, A, 30, 3, last, undefined, {
          eventNumber: 10,
          seq: recordOf(A, 10)?.seq as number,
        }),
      ),
    ).toEqual([31, 32, 33]);
  });
});
