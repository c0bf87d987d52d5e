import { z } from "zod";
import { IdeaEventType } from "./ideas.js";
import { STREAM_ID_PATTERN, StreamId } from "./stream-id.js";

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

const EVENT_TYPES: ReadonlySet<string> = new Set(EventType.options);
const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * IngestMessage's check without zod, for the sequencer's hot path (every INGEST message passes it;
 * with isIdeaEventType below it took the sequencer from 33 to 25.5 µs of CPU per event in paired
 * B5 runs: zod's parse, and the ZodError every signal's idea-type check built). The same rules as the
 * schema, kept so by events.test.ts, which compares the two on generated values. The message is
 * answered as given (no copy; top-level fields the schema does not know are not stripped), or the
 * first broken rule as `<path> <why>`.
 */
export function readIngestMessage(value: unknown): { message: IngestMessage } | { problem: string } {
  if (!isRecord(value)) return { problem: "the message must be an object" };
  for (const field of ["ingest_id", "stream_id", "publisher_id", "event_type", "received_at"] as const)
    if (typeof value[field] !== "string") return { problem: `${field} must be a string` };
  if ((value.ingest_id as string).length === 0) return { problem: "ingest_id must not be empty" };
  if (!STREAM_ID_PATTERN.test(value.stream_id as string)) return { problem: "stream_id is not a stream id" };
  if ((value.publisher_id as string).length === 0) return { problem: "publisher_id must not be empty" };
  if (!EVENT_TYPES.has(value.event_type as string)) return { problem: "event_type is not an event type" };
  const data = value.data;
  if (!isRecord(data)) return { problem: "data must be an object" };
  if (typeof data.id !== "string") return { problem: "data.id must be a string" };
  if (typeof data.timestamp !== "string") return { problem: "data.timestamp must be a string" };
  return { message: value as IngestMessage };
}

const IDEA_EVENT_TYPES: ReadonlySet<string> = new Set(IdeaEventType.options);

/** Whether an event type is one of an idea's (IdeaEventType), without a parse. */
export const isIdeaEventType = (eventType: string): eventType is IdeaEventType => IDEA_EVENT_TYPES.has(eventType);

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
