import type { StreamId } from "./stream-id.js";

/** JetStream stream of validated publishes, not yet numbered. */
export const INGEST_STREAM = "INGEST";
/** JetStream stream of numbered events: the public feed. */
export const EVENTS_STREAM = "EVENTS";

export const INGEST_SUBJECT_PREFIX = "ingest";
export const EVENTS_SUBJECT_PREFIX = "events";

/** Subjects captured by the INGEST stream: `ingest.<partition>.<stream_id>`. */
export const INGEST_SUBJECTS = `${INGEST_SUBJECT_PREFIX}.*.*`;
/** Subjects captured by the EVENTS stream: `events.<stream_id>`. */
export const EVENTS_SUBJECTS = `${EVENTS_SUBJECT_PREFIX}.*`;

export const ingestSubject = (partition: number, streamId: StreamId): string =>
  `${INGEST_SUBJECT_PREFIX}.${partition}.${streamId}`;

/** Filter of one partition's durable consumer. */
export const ingestPartitionFilter = (partition: number): string => `${INGEST_SUBJECT_PREFIX}.${partition}.*`;

/** Durable name of the sequencer's consumer of one partition. */
export const sequencerConsumerName = (partition: number): string => `sequencer-p${partition}`;

export const eventsSubject = (streamId: StreamId): string => `${EVENTS_SUBJECT_PREFIX}.${streamId}`;

/** `Nats-Msg-Id` of a numbered event: JetStream drops a republish of the same number. */
export const eventMsgId = (streamId: StreamId, eventNumber: number): string => `${streamId}:${eventNumber}`;

/** The stream id of an `events.<stream_id>` or `ingest.<p>.<stream_id>` subject. */
export function streamIdOfSubject(subject: string): StreamId {
  const dot = subject.lastIndexOf(".");
  return subject.slice(dot + 1);
}

/**
 * Core NATS subject on which the sequencer announces, per batch, what it numbered: a
 * {@link SequencedNotice}. `<partition>` as in INGEST. Gateways use it to answer a publisher that
 * asked to wait (201 with the event number) without polling Redis.
 */
export const SEQUENCED_SUBJECT_PREFIX = "heliograph.sequenced";
export const sequencedSubject = (partition: number): string => `${SEQUENCED_SUBJECT_PREFIX}.${partition}`;

/** Core NATS subject an operator's resolution is announced on, so the owning sequencer resumes at once. */
export const RESUME_SUBJECT = "heliograph.control.resume";

/**
 * Core NATS subject on which a sequencer announces partition leases it has just released (a
 * graceful stop, a handover to balance): a {@link LeaseFreedNotice}. The other sequencers take them
 * at once instead of at their next lease tick; a lost notice only costs that tick.
 */
export const LEASE_FREED_SUBJECT = "heliograph.sequencer.lease-freed";

/**
 * Header of every EVENTS message: the ingest id the event was numbered from. EVENTS is the record,
 * so a Redis rebuilt from it needs it to know which INGEST messages were applied already.
 */
export const EVENT_INGEST_ID_HEADER = "Heliograph-Ingest-Id";

/**
 * Core NATS subject on which a reader that found Redis behind EVENTS for a stream asks the owning
 * sequencer to verify and repair it (payload: the stream id). `<partition>` as in INGEST.
 */
export const VERIFY_SUBJECT_PREFIX = "heliograph.verify";
export const verifySubject = (partition: number): string => `${VERIFY_SUBJECT_PREFIX}.${partition}`;
