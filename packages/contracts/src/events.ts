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
 * The JSON text of an event, defined here once: `{"event_number":N,"event_type":T,"data":D}`, the
 * fields in that order and `data` as `JSON.stringify` writes it (the publisher's fields, then
 * `published_at`). That one string is stored in the Redis log, published on EVENTS and served as
 * is; it is serialised once, by the sequencer, in two pieces: the body (`eventBodyText`, all after
 * the number) before the number is known, then `EVENT_TEXT_OPEN + n + EVENT_NUMBER_END + body`
 * (`eventText`), which the Lua numbering step writes with these same pieces, passed to it as
 * arguments. A test holds every producer of the text to byte-identical output.
 */
export const EVENT_TEXT_OPEN = '{"event_number":';
export const EVENT_NUMBER_END = ",";

const bodyOf = (eventType: EventType, data: Record<string, unknown>): string =>
  `"event_type":${JSON.stringify(eventType)},"data":${JSON.stringify(data)}}`;

/** The event text after its `{"event_number":N,`, for an INGEST message numbered at `publishedAt`. */
export function eventBodyText(message: IngestMessage, publishedAt: string): string {
  return bodyOf(message.event_type, { ...message.data, published_at: publishedAt });
}

export const eventText = (eventNumber: number, bodyText: string): string =>
  `${EVENT_TEXT_OPEN}${eventNumber}${EVENT_NUMBER_END}${bodyText}`;

/** The text of a whole event: `JSON.stringify(event)` when its fields are in StreamEvent's order. */
export const streamEventText = (event: StreamEvent): string =>
  eventText(event.event_number, bodyOf(event.event_type, event.data));

/** The number of an event from its text: read from its opening piece, or, for other JSON, a full parse. */
export function eventNumberOfText(text: string): number | undefined {
  if (text.startsWith(EVENT_TEXT_OPEN)) {
    const end = text.indexOf(EVENT_NUMBER_END, EVENT_TEXT_OPEN.length);
    const digits = end < 0 ? "" : text.slice(EVENT_TEXT_OPEN.length, end);
    if (/^\d+$/.test(digits)) return Number(digits);
  }
  try {
    const n = (JSON.parse(text) as { event_number?: unknown }).event_number;
    return typeof n === "number" && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** A read's answer body: the events' texts as one JSON array, none of them parsed or serialised again. */
export const eventsArrayText = (texts: readonly string[]): string => `[${texts.join(",")}]`;
