import type { StreamId } from "@heliograph/contracts";

/**
 * Redis key layout. Every key of one Heliograph stream carries the hash tag `{<stream_id>}`, so a
 * stream's keys share a Redis Cluster slot and one Lua script can touch them all.
 */
export function streamKeys(streamId: StreamId) {
  const tag = `hg:{${streamId}}`;
  return {
    /** Redis stream: the log. Entry id `<n+1>-0` for event n, so Redis refuses out-of-order writes. */
    log: `${tag}:log`,
    /** Last event number, absent when the stream is empty (-1). */
    head: `${tag}:head`,
    /** Hash: `status` (`halted` when halted), `reason`, `ingest_id`, `since`. */
    status: `${tag}:status`,
    /** Highest sequencer lease epoch that wrote to this stream; older epochs are refused. */
    fence: `${tag}:fence`,
    /** Prefix of per-ingest-message records (`<prefix><ingest_id>` → event number). */
    appliedPrefix: `${tag}:applied:`,
    /**
     * List: publishes kept, in INGEST order, while the stream is halted or draining after a
     * resolution; the head is the offending one while halted. Entries: `heldEntryText` of halts.ts.
     */
    held: `${tag}:held`,
    /** List of ParkedPublish JSON texts: publishes an operator skipped, never deleted. */
    parked: `${tag}:parked`,
    /** Hash: idea id → IdeaProjection JSON text. */
    ideas: `${tag}:ideas`,
    /** Hash: idea id → compact state `<o|c>|<timestamp ms>|<events>|<timestamp>` (ideas.ts). */
    ideaState: `${tag}:idea-state`,
    /** Set of the ids of open ideas. */
    openIdeas: `${tag}:open-ideas`,
  } as const;
}
export type StreamKeys = ReturnType<typeof streamKeys>;

/** Redis stream entry id of event number n. */
export const logEntryId = (eventNumber: number): string => `${eventNumber + 1}-0`;

/** Field of a log entry that holds the event's JSON text. */
export const LOG_EVENT_FIELD = "e";
/** Field of a log entry that holds the ingest id it came from. */
export const LOG_INGEST_FIELD = "i";

/** One publisher's Idempotency-Key: its reservation, then its first answer (docs/architecture.md, promise 3). */
export const idempotencyKey = (publisherId: string, keyHash: string) => `hg:idem:${publisherId}:${keyHash}`;
/** Where a publish can be looked up by its ingest id. */
export const ingestRecordKey = (ingestId: string) => `hg:ingest:${ingestId}`;
/** Sequencer partition lease. */
export const partitionLeaseKey = (partition: number) => `hg:lease:p${partition}`;
/** Set of the stream ids that are halted (operators list them). */
export const haltedStreamsKey = "hg:halted";
/** Set of the stream ids whose halt was resolved and whose held publishes still wait to be numbered. */
export const resumableStreamsKey = "hg:resumable";
export const partitionEpochKey = (partition: number) => `hg:lease:p${partition}:epoch`;
/** Sorted set of the live sequencer instances: id → when it was last seen (ms, Redis time). */
export const sequencerInstancesKey = "hg:sequencers";
/** The partition count INGEST is laid out with, as the sequencers recorded it (`partition-count.ts`). */
export const partitionCountKey = "hg:partitions";

/**
 * Redis keys of one webhook endpoint (docs/architecture.md, "Redis: the hot tier"), under the hash
 * tag `{wh-<endpoint_id>}`: an endpoint's keys share a slot, and one script may touch them all.
 */
export function webhookKeys(endpointId: string) {
  const tag = `hg:{wh-${endpointId}}`;
  return {
    /** Last event number delivered (2xx) or skipped by a replay; absent: the record's `start_after`. */
    position: `${tag}:position`,
    /** List of WebhookAttempt JSON texts, newest first, trimmed to the dispatcher's log size. */
    attempts: `${tag}:attempts`,
    /** `<event_number>|<ms>`: since when the event at the head of the endpoint has failed (retry limit). */
    failing: `${tag}:failing`,
    /** The dispatcher instance delivering to this endpoint, with an expiry (renewed while it lives). */
    lease: `${tag}:lease`,
  } as const;
}
/** Sorted set of the live webhook dispatcher instances: id → when it was last seen (ms). */
export const webhookDispatchersKey = "hg:webhook-dispatchers";
