import type { StreamId } from "@heliograph/contracts";
import type { Redis } from "@heliograph/platform";
import { LogTrimmedError, RecordTrimmedError, readEventsAfter, readRecordedEvents } from "@heliograph/store";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";

/** Event texts one look reads at most (bytes): a batch of large events is delivered in parts. */
const MAX_LOOK_BYTES = 1024 * 1024;

/** The events after a position are no longer held anywhere: the endpoint cannot go on from there. */
export class EventsEvictedError extends Error {
  constructor(
    readonly after: number,
    readonly earliest: number,
  ) {
    super(`event ${after + 1} is no longer retained; the earliest held is ${earliest} (replay from it)`);
    this.name = "EventsEvictedError";
  }
}

/**
 * Up to `count` event texts after `after`, consecutive, exactly as long polls serve them: from
 * Redis's hot window, else from EVENTS (the record) — older than the window, or not in Redis at
 * all (Redis behind after a failover: the record has it, so delivery does not wait for the repair).
 */
export async function readEventTexts(
  source: { redis: Redis; js: JetStreamClient; jsm: () => Promise<JetStreamManager> },
  streamId: StreamId,
  after: number,
  count: number,
): Promise<string[]> {
  try {
    const hot = await readEventsAfter(source.redis, streamId, after, count, MAX_LOOK_BYTES);
    if (hot.length > 0) return hot;
  } catch (err) {
    if (!(err instanceof LogTrimmedError)) throw err;
  }
  try {
    const cold = await readRecordedEvents(
      source.js,
      await source.jsm(),
      streamId,
      after,
      count,
      undefined,
      MAX_LOOK_BYTES,
    );
    return cold.map((e) => e.text);
  } catch (err) {
    if (err instanceof RecordTrimmedError) throw new EventsEvictedError(after, err.earliest);
    throw err;
  }
}
