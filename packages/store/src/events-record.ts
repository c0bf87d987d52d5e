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
 *
 * They rely on what the sequencer guarantees of `events.<stream_id>` (conditional publishes): the
 * subject holds each number once, in number order, so "the first event at or after JetStream
 * sequence s" grows with s and event n+k is stored at least k sequences after event n.
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

/**
 * EVENTS holds events after the requested position, but not the one right after it (its age or size
 * limit removed it): answering the later ones would skip. `earliest` is the first event it holds.
 */
export class RecordTrimmedError extends Error {
  constructor(
    readonly streamId: StreamId,
    readonly after: number,
    readonly earliest: number,
  ) {
    super(`EVENTS no longer holds event ${after + 1} of ${streamId}; the earliest it holds is ${earliest}`);
    this.name = "RecordTrimmedError";
  }
}

/** Events read in one fetch of the ordered consumer (the client buffers a whole fetch). */
const FETCH_BATCH = 1_000;
/**
 * Up to this many events are read with one STREAM.MSG.GET each rather than a consumer, whose
 * create, fetch and delete cost about four round trips before the first event.
 */
const GETS_UP_TO = 4;
/**
 * A fetch asks only for what the consumer reports pending, so it ends when the last one arrives;
 * the expiry only bounds a fetch whose messages vanish (deleted) while it runs.
 */
const FETCH_EXPIRES_MS = 5_000;

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
  const request = { seq: Math.max(1, seq), next_by_subj: eventsSubject(streamId) } as unknown as MsgRequest;
  const msg = await jsm.streams.getMessage(EVENTS_STREAM, request);
  return msg ? storedEvent(msg) : undefined;
}

/** Where an event of a stream is in EVENTS: its number and JetStream sequence. */
export interface RecordedPosition {
  eventNumber: number;
  seq: number;
}

/**
 * Event `eventNumber` of a stream, or undefined when EVENTS does not hold it. A binary search over
 * sequences, given the stream's last event `top`: about log2(EVENTS messages) look-ups. With `known`
 * (an earlier event's position, e.g. where the reader's last read ended), the first look-up is right
 * after it, where a reader that continues finds its next event: one look-up.
 */
async function recordedEventAt(
  jsm: JetStreamManager,
  streamId: StreamId,
  eventNumber: number,
  top: RecordedEvent,
  known?: RecordedPosition,
): Promise<RecordedEvent | undefined> {
  if (top.eventNumber < eventNumber || eventNumber < 0) return undefined;
  if (top.eventNumber === eventNumber) return top;
  let lo = 1;
  if (known && known.eventNumber < eventNumber && known.seq < top.seq) {
    // Events known+1..eventNumber each take a sequence of their own after known's.
    const found = await firstRecordedFrom(jsm, streamId, known.seq + (eventNumber - known.eventNumber));
    if (found?.eventNumber === eventNumber) return found;
    // Past it means the hint does not describe this EVENTS (purged and written again): search it all.
    if (found && found.eventNumber < eventNumber) lo = found.seq + 1;
  }
  // Events eventNumber+1..top each take a sequence of their own after eventNumber's.
  let hi = top.seq - (top.eventNumber - eventNumber);
  // Invariant: if EVENTS holds the event, its sequence is in [lo, hi].
  while (lo <= hi) {
    const mid = Math.floor((lo + hi) / 2);
    const found = await firstRecordedFrom(jsm, streamId, mid);
    if (!found) return undefined;
    if (found.eventNumber === eventNumber) return found;
    if (found.eventNumber < eventNumber) lo = found.seq + 1;
    else hi = mid - 1;
  }
  return undefined;
}

/**
 * The JetStream sequence of event `eventNumber` of a stream, or undefined when EVENTS does not
 * hold it. About log2(EVENTS messages) look-ups; `last` (the stream's last event) saves one.
 */
export async function recordedSeqOf(
  jsm: JetStreamManager,
  streamId: StreamId,
  eventNumber: number,
  last?: RecordedEvent,
): Promise<number | undefined> {
  const top = last ?? (await lastRecordedEvent(jsm, streamId));
  if (!top) return undefined;
  return (await recordedEventAt(jsm, streamId, eventNumber, top))?.seq;
}

/**
 * Up to `count` events of a stream after `after` (the last one a reader processed; -1 for the
 * start), consecutive from after+1, in order. Empty when EVENTS holds nothing after `after`.
 * Throws {@link RecordTrimmedError} when it holds later events but not after+1, so a reader never
 * gets n+1 without n. `last` is the stream's last event when the caller has just read it.
 *
 * Cost: the last event (unless given), a binary search for after+1 (one look-up from -1, or with
 * `known` the position of event `after` or an earlier one, one when the reader continues), then one
 * look-up per event for a few events, or a short-lived ordered consumer filtered on the stream's
 * subject (create, fetch per 1,000, delete).
 *
 * With `maxBytes`, the texts together hold at most that many bytes (UTF-8), the first always
 * answered whatever its size (fewer events, never an error). Fetches are then sized from the
 * largest event seen so far, so what the client buffers stays near the budget.
 */
export async function readRecordedEvents(
  js: JetStreamClient,
  jsm: JetStreamManager,
  streamId: StreamId,
  after: number,
  count: number,
  last?: RecordedEvent,
  maxBytes = Number.POSITIVE_INFINITY,
  known?: RecordedPosition,
): Promise<RecordedEvent[]> {
  if (count <= 0) return [];
  const top = last ?? (await lastRecordedEvent(jsm, streamId));
  if (!top || top.eventNumber <= after) return [];
  const first =
    after < 0 ? await firstRecordedFrom(jsm, streamId, 1) : await recordedEventAt(jsm, streamId, after + 1, top, known);
  if (first?.eventNumber !== after + 1) {
    const earliest = after < 0 ? first : await firstRecordedFrom(jsm, streamId, 1);
    throw new RecordTrimmedError(streamId, after, earliest?.eventNumber ?? top.eventNumber);
  }
  const wanted = Math.min(count, top.eventNumber - after);
  const events =
    wanted <= GETS_UP_TO
      ? await readByGets(jsm, streamId, first, wanted)
      : await readByConsumer(js, streamId, first, wanted, maxBytes);
  // Consecutive from after+1 only: whatever follows a hole (never expected) is left out.
  const run: RecordedEvent[] = [];
  let bytes = 0;
  for (const event of events) {
    if (event.eventNumber !== after + 1 + run.length) break;
    const size = Buffer.byteLength(event.text);
    if (run.length > 0 && bytes + size > maxBytes) break;
    bytes += size;
    run.push(event);
  }
  return run;
}

async function readByGets(
  jsm: JetStreamManager,
  streamId: StreamId,
  first: RecordedEvent,
  wanted: number,
): Promise<RecordedEvent[]> {
  const events = [first];
  while (events.length < wanted) {
    const next = await firstRecordedFrom(jsm, streamId, (events.at(-1) as RecordedEvent).seq + 1);
    if (!next) break;
    events.push(next);
  }
  return events;
}

async function readByConsumer(
  js: JetStreamClient,
  streamId: StreamId,
  first: RecordedEvent,
  wanted: number,
  maxBytes: number,
): Promise<RecordedEvent[]> {
  const consumer = await js.consumers.get(EVENTS_STREAM, {
    filter_subjects: eventsSubject(streamId),
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: first.seq,
  });
  const events: RecordedEvent[] = [];
  try {
    // Never ask for more than is stored: a fetch that asks for more waits out its expiry.
    let remaining = Math.min(wanted, (await consumer.info(true)).num_pending);
    let bytes = 0;
    let largest = Buffer.byteLength(first.text);
    while (remaining > 0 && bytes < maxBytes) {
      // Within the budget left, at the largest size seen (at least one, so the reader progresses).
      const fit = Math.max(1, Math.floor((maxBytes - bytes) / Math.max(1, largest)));
      const batch = await consumer.fetch({
        max_messages: Math.min(remaining, FETCH_BATCH, fit),
        expires: FETCH_EXPIRES_MS,
      });
      let got = 0;
      for await (const msg of batch) {
        got++;
        bytes += msg.data.length;
        largest = Math.max(largest, msg.data.length);
        events.push(recorded({ seq: msg.seq, string: () => msg.string(), header: msg.headers }));
      }
      if (got === 0) break;
      remaining -= got;
    }
  } finally {
    await consumer.delete().catch(() => undefined);
  }
  return events;
}
