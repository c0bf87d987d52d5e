/**
 * Child: reads one stream's events from EVENTS with a JetStream ordered consumer filtered on
 * `events.<stream_id>`, from the first, as a downstream service would (B8's raw baseline).
 */
import { EVENTS_STREAM, eventsSubject } from "@heliograph/contracts";
import { DeliverPolicy, jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { childMain } from "./child.js";
import { nowMs } from "./clock.js";

export interface EventsReaderInput {
  nats: { servers: string[]; user?: string; pass?: string; inboxPrefix?: string };
  streamId: string;
  /** Events to read (the stream's count in EVENTS). */
  count: number;
  timeLimitMs: number;
}

export interface EventsReaderResult {
  events: number;
  elapsedMs: number;
  perSecond: number;
}

childMain<EventsReaderInput, EventsReaderResult>(async (input) => {
  const nc = await connect({ ...input.nats, name: "bench-events-reader" });
  const js = jetstream(nc);
  const started = nowMs();
  const consumer = await js.consumers.get(EVENTS_STREAM, {
    filter_subjects: eventsSubject(input.streamId),
    deliver_policy: DeliverPolicy.All,
  });
  let events = 0;
  const messages = await consumer.consume({ max_messages: 1_000 });
  const timer = setTimeout(() => messages.stop(), input.timeLimitMs);
  for await (const msg of messages) {
    // As a reader does: the text is decoded, not only counted.
    if (msg.string().length > 0) events++;
    if (events >= input.count) break;
  }
  clearTimeout(timer);
  const elapsedMs = nowMs() - started;
  await nc.drain();
  return { events, elapsedMs, perSecond: (events / elapsedMs) * 1000 };
});
