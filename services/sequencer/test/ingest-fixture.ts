import {
  DEFAULT_PARTITION_COUNT,
  EVENTS_STREAM,
  eventsSubject,
  type IdeaEventType,
  type IngestMessage,
  ingestSubject,
  partitionOf,
  type StreamEvent,
  type StreamId,
} from "@heliograph/contracts";
import { DOCUMENT_IDEA_OPENED } from "@heliograph/contracts/fixtures";
import type { Redis } from "@heliograph/platform";
import { readEventsAfter } from "@heliograph/store";
import { waitFor } from "@heliograph/testkit";
import type { JetStreamClient } from "@nats-io/jetstream";

/** Test-only helpers: INGEST messages as the ingest gateway publishes them, and reads of EVENTS. */

export function ingestMessage(streamId: StreamId, ingestId: string, k: number): IngestMessage {
  const now = new Date().toISOString();
  return {
    ingest_id: ingestId,
    stream_id: streamId,
    publisher_id: "pub-test",
    event_type: "TradingSignalCreated",
    data: { id: `signal-${k}`, timestamp: now, k },
    received_at: now,
  };
}

/** An idea publish as the ingest gateway stores it: the document's example with this id, type and timestamp. */
export function ideaMessage(
  streamId: StreamId,
  ingestId: string,
  eventType: IdeaEventType,
  ideaId: string,
  timestamp: string,
  extra: Record<string, unknown> = {},
): IngestMessage {
  const { published_at: _, ...data } = DOCUMENT_IDEA_OPENED.data;
  const closed = eventType === "IdeaClosed";
  return {
    ingest_id: ingestId,
    stream_id: streamId,
    publisher_id: "pub-test",
    event_type: eventType,
    data: {
      ...data,
      id: ideaId,
      timestamp,
      comment: `${eventType} ${ingestId}`,
      idea: { ...data.idea, state: closed ? "closed" : "open", close_timestamp: closed ? timestamp : null },
      ...extra,
    },
    received_at: new Date().toISOString(),
  };
}

export function publishIngest(
  js: JetStreamClient,
  message: IngestMessage | { stream_id: StreamId; raw: string; ingest_id: string },
  options: { msgID?: string; partitions?: number } = {},
) {
  const partition = partitionOf(message.stream_id, options.partitions ?? DEFAULT_PARTITION_COUNT);
  const body = "raw" in message ? message.raw : JSON.stringify(message);
  return js.publish(ingestSubject(partition, message.stream_id), body, { msgID: options.msgID ?? message.ingest_id });
}

/** `count` stream ids whose partitions are all different (count <= partitions). */
export function streamsOnDistinctPartitions(prefix: string, count: number, partitions = DEFAULT_PARTITION_COUNT) {
  const seen = new Set<number>();
  const ids: StreamId[] = [];
  for (let i = 0; ids.length < count; i++) {
    const id = `${prefix}-${i}`;
    const p = partitionOf(id, partitions);
    if (!seen.has(p)) {
      seen.add(p);
      ids.push(id);
    }
  }
  return ids;
}

/** A stream id on the same partition as `other`. */
export function streamOnSamePartition(prefix: string, other: StreamId, partitions = DEFAULT_PARTITION_COUNT) {
  const target = partitionOf(other, partitions);
  for (let i = 0; ; i++) {
    const id = `${prefix}-${i}`;
    if (id !== other && partitionOf(id, partitions) === target) return id;
  }
}

/** Every message of `events.<streamId>` in EVENTS, in stream order. */
export async function readEventsStream(js: JetStreamClient, streamId: StreamId): Promise<string[]> {
  const subject = eventsSubject(streamId);
  const jsm = await js.jetstreamManager();
  const info = await jsm.streams.info(EVENTS_STREAM, { subjects_filter: subject });
  const count = info.state.subjects?.[subject] ?? 0;
  const consumer = await js.consumers.get(EVENTS_STREAM, { filter_subjects: subject });
  const texts: string[] = [];
  while (texts.length < count) {
    const batch = await consumer.fetch({ max_messages: Math.min(count - texts.length, 1000), expires: 2000 });
    let got = 0;
    for await (const msg of batch) {
      texts.push(msg.string());
      got++;
    }
    if (got === 0) break;
  }
  return texts;
}

/** A stream's log (parsed, in order), its texts, and its EVENTS texts sorted by event number. */
export async function readNumbered(redis: Redis, js: JetStreamClient, streamId: StreamId) {
  const texts = await readEventsAfter(redis, streamId, -1, 100_000);
  const events = texts.map((text) => JSON.parse(text) as StreamEvent);
  const numberOf = (text: string) => (JSON.parse(text) as StreamEvent).event_number;
  // Redis is written before EVENTS: the last batch's EVENTS publishes may still be in flight.
  let stored: string[] = [];
  await waitFor(
    async () => {
      stored = await readEventsStream(js, streamId);
      return stored.length >= texts.length;
    },
    { timeoutMs: 10_000, what: `EVENTS to hold the ${texts.length} events of ${streamId} in Redis` },
  );
  const published = stored.sort((a, b) => numberOf(a) - numberOf(b));
  return { texts, events, published };
}
