import { EVENT_NUMBER_END, EVENT_TEXT_OPEN, EventType, eventNumberOfText } from "./events.js";

/**
 * Server-Sent Events on the numbered stream (`GET /api/v1/stream/{stream_id}/events`): one SSE
 * message per event, `id:` its number, `event:` its `event_type`, `data:` its JSON text exactly as a
 * long poll returns it. Its request parts (`?after`, `Last-Event-ID`) are in request-parts.ts.
 */
export const EVENT_STREAM_CONTENT_TYPE = "text/event-stream; charset=utf-8";
/** Response header telling a buffering proxy (nginx) to pass events on as they come. */
export const PROXY_BUFFERING_HEADER = "x-accel-buffering";
/** The SSE message sent once when the stream is (or becomes) halted; its data is `{"head":N}`. */
export const HALTED_SSE_EVENT = "halted";
/** The comment line sent when nothing else was sent for SSE_HEARTBEAT_MS, so proxies keep the connection. */
export const SSE_HEARTBEAT = ": heartbeat\n\n";
/** The reconnection delay (ms) the stream advises its clients once, in its first `retry:` line. */
export const SSE_RETRY_MS = 1_000;

/** The `retry:` line that opens every event stream. */
export const sseRetryText = (ms: number = SSE_RETRY_MS): string => `retry: ${ms}\n\n`;

/** The `event_type` of an event's text: read after its number when written as the sequencer does, else parsed. */
export function eventTypeOfText(text: string): string | undefined {
  const open = `${EVENT_NUMBER_END}"event_type":"`;
  const at = text.startsWith(EVENT_TEXT_OPEN) ? text.indexOf(open, EVENT_TEXT_OPEN.length) : -1;
  if (at >= 0 && at < EVENT_TEXT_OPEN.length + 17) {
    const start = at + open.length;
    const end = text.indexOf('"', start);
    const type = text.slice(start, end);
    if (end > start && EventType.safeParse(type).success) return type;
  }
  try {
    const type = (JSON.parse(text) as { event_type?: unknown }).event_type;
    return typeof type === "string" ? type : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The SSE message of one event. Its JSON text has no line breaks (JSON escapes them), so it is one
 * `data:` line; undefined when the text carries no event number.
 */
export function sseEventText(text: string): string | undefined {
  const n = eventNumberOfText(text);
  if (n === undefined) return undefined;
  return `id: ${n}\nevent: ${eventTypeOfText(text) ?? "message"}\ndata: ${text}\n\n`;
}

/** The `halted` message: the stream numbers nothing until an operator resolves it; `head` is its last event. */
export const sseHaltedText = (head: number): string => `event: ${HALTED_SSE_EVENT}\ndata: {"head":${head}}\n\n`;
