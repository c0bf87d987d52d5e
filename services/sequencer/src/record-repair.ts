import type { StreamId } from "@heliograph/contracts";
import type { Logger, Redis } from "@heliograph/platform";
import {
  LOG_EVENT_FIELD,
  LOG_INGEST_FIELD,
  lastRecordedEvent,
  logEntryId,
  type RecordedEvent,
  RecordTrimmedError,
  readHead,
  readRecordedEvents,
  streamKeys,
} from "@heliograph/store";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { EventsWriter, Publication } from "./events-writer.js";
import type { SequencerMetrics } from "./metrics.js";
import { recordedStepInput, runRestoreStep } from "./sequence-step.js";

export interface RepairDeps {
  redis: Redis;
  js: JetStreamClient;
  jsm: JetStreamManager;
  writer: EventsWriter;
  log: Logger;
  metrics: SequencerMetrics;
  epoch: number;
  appliedTtlSeconds: number;
  /** As the numbering step gets it: the partition epoch checked atomically (single-node Redis only). */
  partitionEpochKey: string | undefined;
  /** The stream's hot window: a replay trims the log as the numbering step does. */
  hotWindow: number;
}

/** Events replayed into Redis per restore step (one Lua call, one EVENTS read). */
const REPLAY_BATCH = 500;

/**
 * Brings one stream's Redis state in step with EVENTS, the record (docs/architecture.md, "Repair
 * from the record"), and returns Redis's head afterwards, which the numbering step then expects:
 * - Redis behind (restored from an older snapshot, a failover to a lagging replica, a FLUSHALL, an
 *   empty restart): the missing events are read from EVENTS and appended to Redis exactly as they
 *   were numbered (log entries, head, idea states, and the applied records that make a redelivered
 *   INGEST message come back as "numbered before" instead of being numbered again).
 * - Redis ahead (a crash between the numbering step and its EVENTS publishes): what EVENTS lacks is
 *   published from Redis's log, conditionally, as the worker would have.
 * Also sets the writer's tip of the stream to the record's last event.
 */
export async function verifyStream(deps: RepairDeps, streamId: StreamId): Promise<number> {
  const { redis, jsm, writer, log, metrics } = deps;
  metrics.verifications.inc();
  const [last, redisHead] = await Promise.all([lastRecordedEvent(jsm, streamId), readHead(redis, streamId)]);
  const recorded = last?.eventNumber ?? -1;
  writer.setTip(streamId, last ? { eventNumber: last.eventNumber, seq: last.seq } : { eventNumber: -1, seq: 0 });
  if (redisHead === recorded) return redisHead;
  if (redisHead > recorded) {
    metrics.repairs.inc({ direction: "ahead" });
    const publications = await readLog(redis, streamId, recorded + 1, redisHead);
    log.warn({ streamId, redisHead, recorded }, "Redis is ahead of EVENTS; publishing what the record lacks");
    await writer.write(publications);
    return redisHead;
  }
  metrics.repairs.inc({ direction: "behind" });
  log.warn({ streamId, redisHead, recorded }, "Redis is behind EVENTS; replaying the record into Redis");
  let head = redisHead;
  while (head < recorded) {
    let events: RecordedEvent[];
    try {
      events = await readRecordedEvents(deps.js, jsm, streamId, head, REPLAY_BATCH);
    } catch (err) {
      if (!(err instanceof RecordTrimmedError)) throw err;
      // EVENTS' retention removed events Redis lacks: Redis restarts at the first one EVENTS holds
      // (readers of older positions get 410; idea states are rebuilt from what is left).
      log.warn({ streamId, redisHead: head, earliest: err.earliest }, "EVENTS no longer holds the events Redis lacks");
      events = await readRecordedEvents(deps.js, jsm, streamId, err.earliest - 1, REPLAY_BATCH);
    }
    if (events.length === 0)
      throw new Error(`EVENTS holds ${streamId} up to ${recorded} but returned nothing after ${head}`);
    head = await runRestoreStep(
      redis,
      streamId,
      deps.epoch,
      deps.appliedTtlSeconds,
      head,
      events.map((event) => recordedStepInput(event.text, event.ingestId)),
      { partitionEpochKey: deps.partitionEpochKey, hotWindow: deps.hotWindow, firstNumber: events[0]!.eventNumber },
    );
    metrics.replayed.inc(events.length);
  }
  log.info({ streamId, head }, "Redis replayed from EVENTS");
  return head;
}

/** Log entries `from`..`to` of a stream, which must all be there. */
async function readLog(redis: Redis, streamId: StreamId, from: number, to: number): Promise<Publication[]> {
  const entries = await redis.xrange(streamKeys(streamId).log, logEntryId(from), logEntryId(to));
  const publications = entries.map(([, fields], i): Publication => {
    const field = (name: string) => {
      for (let f = 0; f < fields.length; f += 2) if (fields[f] === name) return fields[f + 1]!;
      return "";
    };
    return { streamId, eventNumber: from + i, text: field(LOG_EVENT_FIELD), ingestId: field(LOG_INGEST_FIELD) };
  });
  if (publications.length !== to - from + 1)
    throw new Error(`Redis log of ${streamId} lacks events between ${from} and ${to}`);
  return publications;
}
