import {
  EVENT_INGEST_ID_HEADER,
  EVENTS_STREAM,
  eventNumberOfText,
  eventsSubject,
  type StreamId,
} from "@heliograph/contracts";
import {
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type MsgRequest,
  type StoredMsg,
} from "@nats-io/jetstream";

/**
 * Reads of EVENTS, the record (docs/architecture.md, "Redis: the hot tier"): what the sequencer
 * compares Redis with and replays into it, and what the stream gateway serves while Redis is behind.
 */

/** One event as EVENTS holds it. */
export interface RecordedEvent {
  eventNumber: number;
  /** The event's JSON text, byte for byte as the sequencer published it. */
  text: string;
  /** The ingest id it was numbered from ("" for an event published before the header existed). */
  ingestId: string;
  /** Its JetStream sequence in EVENTS. */
  seq: number;
}

function recorded(msg: { seq: number; string(): string; header?: { get(k: string): string } }): RecordedEvent {
  const text = msg.string();
  const eventNumber = eventNumberOfText(text);
  if (eventNumber === undefined) throw new Error(`EVENTS message ${msg.seq} has no event number`);
  return { eventNumber, text, ingestId: msg.header?.get(EVENT_INGEST_ID_HEADER) ?? "", seq: msg.seq };
}

function storedEvent(msg: StoredMsg): RecordedEvent {
  return recorded({ seq: msg.seq, string: () => msg.string(), header: msg.header });
}

/** The last event of a stream in EVENTS, or undefined when EVENTS holds none. */
export async function lastRecordedEvent(jsm: JetStreamManager, streamId: StreamId): Promise<RecordedEvent | undefined> {
  const msg = await jsm.streams.getMessage(EVENTS_STREAM, { last_by_subj: eventsSubject(streamId) });
  return msg ? storedEvent(msg) : undefined;
}

/** The first event of a stream stored at or after JetStream sequence `seq`, or undefined. */
async function firstRecordedFrom(
  jsm: JetStreamManager,
  streamId: StreamId,
  seq: number,
): Promise<RecordedEvent | undefined> {
  // STREAM.MSG.GET takes next_by_subj since nats-server 2.9 (tested against it); the client's
  // type only lists it for direct gets, which a stream must opt into.
  const request = { seq, next_by_subj: eventsSubject(streamId) } as unknown as MsgRequest;
  const msg = await jsm.streams.getMessage(EVENTS_STREAM, request);
  return msg ? storedEvent(msg) : undefined;
}

/**
 * The JetStream sequence of event `eventNumber` of a stream, or undefined when EVENTS does not
 * hold it. A binary search over sequences: a stream's events are stored in number order, so
 * "the first event at or after sequence s" grows with s. About log2(EVENTS messages) look-ups.
 */
export async function recordedSeqOf(
  jsm: JetStreamManager,
  streamId: StreamId,
  eventNumber: number,
  last?: RecordedEvent,
): Promise<number | undefined> {
  const top = last ?? (await lastRecordedEvent(jsm, streamId));
  if (!top || top.eventNumber < eventNumber) return undefined;
  if (top.eventNumber === eventNumber) return top.seq;
  const info = await jsm.streams.info(EVENTS_STREAM);
  let lo = info.state.first_seq;
  let hi = top.seq - 1;
  // Invariant: if EVENTS holds event `eventNumber`, its sequence is in [lo, hi].
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    const found = await firstRecordedFrom(jsm, streamId, mid);
    if (!found) return undefined;
    if (found.eventNumber === eventNumber) return found.seq;
    if (found.eventNumber < eventNumber) lo = found.seq + 1;
    else hi = mid - 1;
  }
  const at = await firstRecordedFrom(jsm, streamId, lo);
  return at?.eventNumber === eventNumber ? at.seq : undefined;
}

/**
 * Up to `count` events of a stream after `after` (the last one a reader processed; -1 for the
 * start), in order, read from EVENTS with a short-lived ordered consumer filtered on the stream's
 * subject. Empty when EVENTS holds nothing after `after`.
 */
export async function readRecordedEvents(
  js: JetStreamClient,
  jsm: JetStreamManager,
  streamId: StreamId,
  after: number,
  count: number,
): Promise<RecordedEvent[]> {
  const last = await lastRecordedEvent(jsm, streamId);
  if (!last || last.eventNumber <= after || count <= 0) return [];
  const startSeq = after < 0 ? 1 : await recordedSeqOf(jsm, streamId, after + 1, last);
  if (startSeq === undefined) return [];
  const wanted = Math.min(count, last.eventNumber - after);
  const consumer = await js.consumers.get(EVENTS_STREAM, {
    filter_subjects: eventsSubject(streamId),
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: startSeq,
  });
  const events: RecordedEvent[] = [];
  try {
    while (events.length < wanted) {
      const batch = await consumer.fetch({ max_messages: wanted - events.length, expires: 2_000 });
      let got = 0;
      for await (const msg of batch) {
        got++;
        const event = recorded({ seq: msg.seq, string: () => msg.string(), header: msg.headers });
        if (event.eventNumber <= after) continue;
        events.push(event);
        if (msg.info.pending === 0 || events.length >= wanted) break;
      }
      if (got === 0) break;
    }
  } finally {
    await consumer.delete().catch(() => undefined);
  }
  // A reader never gets n+1 without n: keep only the run that follows `after` without a gap.
  const run: RecordedEvent[] = [];
  for (const event of events) {
    if (event.eventNumber !== after + 1 + run.length) break;
    run.push(event);
  }
  return run;
}
