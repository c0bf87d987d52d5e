import { z } from "zod";
import { StreamId } from "./stream-id.js";

export const EventType = z.enum([
  "ResourcePublished",
  "TradingSignalCreated",
  "IdeaOpened",
  "IdeaUpdated",
  "IdeaClosed",
]);
export type EventType = z.infer<typeof EventType>;

/**
 * `data` of every event: the publisher's payload plus `id` (correlation id), `timestamp`
 * (publisher's) and `published_at` (when Heliograph numbered it).
 */
export const EventData = z.looseObject({
  id: z.string(),
  timestamp: z.string(),
  published_at: z.string(),
});
export type EventData = z.infer<typeof EventData>;

/** One numbered event, as subscribers read it and as `events.<stream_id>` carries it. */
export const StreamEvent = z.object({
  event_number: z.number().int().nonnegative(),
  event_type: EventType,
  data: EventData,
});
export type StreamEvent = z.infer<typeof StreamEvent>;

/** What the ingest gateway stores in INGEST: a validated publish waiting for its number. */
export const IngestMessage = z.object({
  ingest_id: z.string().min(1),
  stream_id: StreamId,
  publisher_id: z.string().min(1),
  event_type: EventType,
  /** The event's data without `published_at`, which the sequencer adds. */
  data: z.looseObject({ id: z.string(), timestamp: z.string() }),
  received_at: z.string(),
});
export type IngestMessage = z.infer<typeof IngestMessage>;

/**
 * The JSON text of an event without its leading `{"event_number":N,`: the sequencer builds it once
 * and the numbering step prefixes the number, so the stored, published and served text is one
 * string, serialised once.
 */
export function eventBodyText(message: IngestMessage, publishedAt: string): string {
  const data = { ...message.data, published_at: publishedAt };
  return `"event_type":${JSON.stringify(message.event_type)},"data":${JSON.stringify(data)}}`;
}

export const eventText = (eventNumber: number, bodyText: string): string =>
  `{"event_number":${eventNumber},${bodyText}`;
