import {
  EARLIEST_EVENT_HEADER,
  HeliographError,
  partitionOf,
  type StreamId,
  type StreamStatus,
  verifySubject,
} from "@heliograph/contracts";
import { Counter, type Logger, type NatsConnection, type Redis, type Registry } from "@heliograph/platform";
import {
  LogTrimmedError,
  lastRecordedEvent,
  type RecordedEvent,
  RecordTrimmedError,
  readEventsAfter,
  readLastEvents,
  readRecordedEvents,
  readStreamState,
  type StreamState,
} from "@heliograph/store";
import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { type StreamCheck, type Verdict, VerifiedStreams, watchRedisConnection } from "./verified-streams.js";

/** What one look at a stream found: events (maybe none) and the head and status to report with them. */
export interface StreamLook {
  texts: string[];
  head: number;
  status: StreamStatus;
}

export interface StreamSourceOptions {
  redis: Redis;
  nc: NatsConnection;
  log: Logger;
  metrics: Registry;
  /** The partition count, to address verify requests to the stream's sequencer. */
  partitions: number;
  /** Streams whose verification is remembered at most. */
  maxStreams: number;
  /** Least time between two verify requests for one stream. */
  askIntervalMs?: number;
  /**
   * Bytes of event text one read answers at most (at least one event whatever its size): a
   * batch of large events is answered in part, and the client continues from the last number.
   */
  maxResponseBytes?: number;
}

/** MAX_RESPONSE_BYTES's default (config.ts). */
export const DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

/**
 * Where recent cold reads ended (stream and event number → EVENTS sequence), at most this many:
 * the next read of a reader catching up starts right after, found with one look-up instead of a
 * binary search over EVENTS.
 */
const COLD_CURSORS_MAX = 10_000;

/** How long a client is told to wait before retrying a read that Redis cannot answer yet. */
const RETRY_AFTER_S = 1;

/** The last event EVENTS held when it was read ("none" when it held none). */
interface RecordLook {
  last: RecordedEvent | undefined;
}

/**
 * Where a subscriber read's answer comes from (docs/architecture.md, "Stream gateway"): Redis, the
 * hot tier, whenever this gateway has verified that Redis holds the stream's record; EVENTS, the
 * record, while it has not. Reads never contradict the record: while Redis is behind, events and
 * heads come from EVENTS, and what only Redis holds (idea states) is refused with 503.
 *
 * A verified stream's read is exactly today's Redis read plus two in-memory look-ups. The first read
 * of a stream in a Redis generation, and every read of a stream found behind, first reads the last
 * event of `events.<stream_id>` (one JetStream request).
 */
export class StreamSource {
  readonly verified: VerifiedStreams;
  private readonly js: JetStreamClient;
  private jsm: Promise<JetStreamManager> | undefined;
  private readonly stopWatching: () => void;
  private readonly checks: Counter<"verdict">;
  private readonly recordReads: Counter<"reason">;
  private readonly verifyRequests: Counter;
  private readonly maxBytes: number;
  private readonly coldCursors = new Map<string, number>();
  private warnedAt = -Infinity;
  private unlogged = 0;

  constructor(private readonly options: StreamSourceOptions) {
    this.verified = new VerifiedStreams({
      maxStreams: options.maxStreams,
      askIntervalMs: options.askIntervalMs ?? 1_000,
    });
    this.maxBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    this.stopWatching = watchRedisConnection(options.redis, this.verified);
    this.js = jetstream(options.nc);
    this.checks = new Counter({
      name: "heliograph_stream_record_checks_total",
      help: "Comparisons of a stream's Redis head with its last event in EVENTS, by verdict: current, behind, unsure",
      labelNames: ["verdict"] as const,
      registers: [options.metrics],
    });
    this.recordReads = new Counter({
      name: "heliograph_stream_record_reads_total",
      help: "Reads answered from EVENTS (or refused): cold (older than the hot window), or because Redis could not be trusted (behind, unsure)",
      labelNames: ["reason"] as const,
      registers: [options.metrics],
    });
    this.verifyRequests = new Counter({
      name: "heliograph_stream_verify_requests_total",
      help: "Verify requests sent to a sequencer for a stream whose Redis was found behind EVENTS",
      registers: [options.metrics],
    });
  }

  /** Stops following the Redis connection (the app closes). */
  stop(): void {
    this.stopWatching();
  }

  /** The hub saw event `eventNumber` of the stream in EVENTS. */
  noteRecorded(streamId: StreamId, eventNumber: number): void {
    this.verified.noteRecorded(streamId, eventNumber);
  }

  /** {@link VerifiedStreams.atRecordedHead}: no read can find an event after `after` that the hub will not dispatch. */
  atRecordedHead(streamId: StreamId, after: number): boolean {
    return this.verified.atRecordedHead(streamId, after);
  }

  /**
   * Up to `count` events after `after`, consecutive, with the head and status; fewer when their
   * texts would exceed `maxResponseBytes` (never none while one exists).
   */
  async read(streamId: StreamId, after: number, count: number): Promise<StreamLook> {
    const check = this.verified.begin(streamId);
    const record = check.verified ? undefined : await this.lookAtRecord(streamId);
    const [hot, state] = await Promise.all([
      readEventsAfter(this.options.redis, streamId, after, count, this.maxBytes).catch((err: unknown) => {
        if (err instanceof LogTrimmedError) return err;
        throw err;
      }),
      readStreamState(this.options.redis, streamId),
    ]);
    const verdict = this.settle(check, state.head, record);
    if (verdict === "current") {
      if (hot instanceof LogTrimmedError || (hot.length === 0 && state.head > after)) {
        // Older than the hot window: the cold path. Consecutive from after+1 as the log would be,
        // so a reader crossing the window's start gets EVENTS' events, then the log's, no gap.
        const earliest = hot instanceof LogTrimmedError ? hot.earliest : Number.POSITIVE_INFINITY;
        const events = await this.readCold(streamId, after, count, record?.last, earliest);
        this.recordReads.inc({ reason: "cold" });
        return { texts: events.map((e) => e.text), head: state.head, status: state.status };
      }
      // Texts are consecutive from after+1; the head key is written just after the log entry.
      return { texts: hot, head: Math.max(state.head, after + hot.length), status: state.status };
    }
    this.distrust(streamId, verdict);
    const last = (record ?? (await this.lookAtRecord(streamId))).last;
    const head = last?.eventNumber ?? -1;
    if (head <= after) return { texts: [], head, status: state.status };
    const events = await this.readRecord(streamId, after, count, last);
    return { texts: events.map((e) => e.text), head, status: state.status };
  }

  /** The head and status to report, e.g. when a wait ends. */
  async state(streamId: StreamId): Promise<StreamState> {
    const check = this.verified.begin(streamId);
    const record = check.verified ? undefined : await this.lookAtRecord(streamId);
    const state = await readStreamState(this.options.redis, streamId);
    const verdict = this.settle(check, state.head, record);
    if (verdict === "current") return state;
    this.distrust(streamId, verdict);
    const last = (record ?? (await this.lookAtRecord(streamId))).last;
    return { head: last?.eventNumber ?? -1, status: state.status };
  }

  /** The last `count` events, oldest first. */
  async recent(streamId: StreamId, count: number): Promise<StreamLook> {
    const check = this.verified.begin(streamId);
    const record = check.verified ? undefined : await this.lookAtRecord(streamId);
    const [texts, state] = await Promise.all([
      readLastEvents(this.options.redis, streamId, count),
      readStreamState(this.options.redis, streamId),
    ]);
    const verdict = this.settle(check, state.head, record);
    if (verdict === "current") return { texts, head: state.head, status: state.status };
    this.distrust(streamId, verdict);
    const last = (record ?? (await this.lookAtRecord(streamId))).last;
    if (!last) return { texts: [], head: -1, status: state.status };
    let after = Math.max(-1, last.eventNumber - count);
    let events: RecordedEvent[];
    try {
      events = await readRecordedEvents(this.js, await this.manager(), streamId, after, count, last);
    } catch (err) {
      if (!(err instanceof RecordTrimmedError)) throw err;
      // Fewer than `count` are still held: the most recent are those there are.
      after = err.earliest - 1;
      events = await readRecordedEvents(this.js, await this.manager(), streamId, after, count, last);
    }
    return { texts: events.map((e) => e.text), head: last.eventNumber, status: state.status };
  }

  /**
   * Runs a read of what only Redis holds (idea states), whose last step reads the stream's state,
   * and answers it only when Redis holds the stream's record; otherwise 503 with Retry-After: a
   * projection of a Redis that is behind would contradict the record.
   */
  async fromRedisOnly<T>(streamId: StreamId, run: () => Promise<{ value: T; state: StreamState }>): Promise<T> {
    const check = this.verified.begin(streamId);
    const record = check.verified ? undefined : await this.lookAtRecord(streamId);
    const { value, state } = await run();
    const verdict = this.settle(check, state.head, record);
    if (verdict === "current") return value;
    this.distrust(streamId, verdict);
    throw new HeliographError("SERVICE_UNAVAILABLE", {
      message: "This stream's Redis copy is behind its record and is being repaired; retry shortly",
      retryAfter: RETRY_AFTER_S,
    });
  }

  private settle(check: StreamCheck, redisHead: number, record: RecordLook | undefined): Verdict {
    const verdict = this.verified.settle(check, redisHead, record && (record.last?.eventNumber ?? -1));
    if (record || verdict !== "current") this.checks.inc({ verdict });
    return verdict;
  }

  /** Redis was found behind (or may be): count it, and ask the stream's sequencer to verify it. */
  private distrust(streamId: StreamId, verdict: Exclude<Verdict, "current">): void {
    this.recordReads.inc({ reason: verdict });
    if (verdict !== "behind" || !this.verified.shouldAsk(streamId)) return;
    const subject = verifySubject(partitionOf(streamId, this.options.partitions));
    try {
      this.options.nc.publish(subject, streamId);
      this.verifyRequests.inc();
      // One line a second at most: after a whole-Redis loss every stream read asks.
      const now = performance.now();
      if (now - this.warnedAt >= 1_000) {
        this.options.log.warn(
          { streamId, subject, othersSinceLastLine: this.unlogged },
          "Redis is behind EVENTS for this stream: its reads come from EVENTS until it is repaired",
        );
        this.warnedAt = now;
        this.unlogged = 0;
      } else {
        this.unlogged++;
      }
    } catch (err) {
      // The reads are served from EVENTS regardless; the next read asks again.
      this.options.log.warn({ err, streamId }, "could not send a verify request");
    }
  }

  /**
   * Events after `after` from EVENTS, for a position older than the hot window (Redis holds the
   * stream, from event `logEarliest` on). Older than EVENTS' retention too: 410 POSITION_EVICTED,
   * naming the first event either still holds.
   */
  private async readCold(
    streamId: StreamId,
    after: number,
    count: number,
    last: RecordedEvent | undefined,
    logEarliest: number,
  ): Promise<RecordedEvent[]> {
    const cursorKey = `${streamId} ${after}`;
    const seq = this.coldCursors.get(cursorKey);
    const known = seq === undefined ? undefined : { eventNumber: after, seq };
    try {
      const manager = await this.manager();
      const events = await readRecordedEvents(this.js, manager, streamId, after, count, last, this.maxBytes, known);
      const end = events.at(-1);
      if (end) {
        this.coldCursors.delete(cursorKey);
        this.coldCursors.set(`${streamId} ${end.eventNumber}`, end.seq);
        if (this.coldCursors.size > COLD_CURSORS_MAX) this.coldCursors.delete(this.coldCursors.keys().next().value!);
      }
      return events;
    } catch (err) {
      if (!(err instanceof RecordTrimmedError)) throw err;
      const earliest = Math.min(err.earliest, logEarliest);
      throw new HeliographError("POSITION_EVICTED", {
        message: `Event ${after + 1} of ${streamId} is no longer retained; the earliest event held is ${earliest}`,
        details: [{ path: "params.event_number", message: `continue from ${earliest - 1} or later` }],
        headers: { [EARLIEST_EVENT_HEADER]: String(earliest) },
      });
    }
  }

  private async readRecord(
    streamId: StreamId,
    after: number,
    count: number,
    last: RecordedEvent | undefined,
  ): Promise<RecordedEvent[]> {
    try {
      return await readRecordedEvents(this.js, await this.manager(), streamId, after, count, last, this.maxBytes);
    } catch (err) {
      if (!(err instanceof RecordTrimmedError)) throw err;
      // Neither Redis (behind) nor EVENTS (past its retention) holds event after+1: answering the
      // later ones would skip it. The repaired Redis may hold it; nothing here can.
      throw new HeliographError("SERVICE_UNAVAILABLE", {
        message: `Event ${after + 1} cannot be read while this stream's Redis copy is repaired; the record holds events from ${err.earliest}`,
        retryAfter: RETRY_AFTER_S,
      });
    }
  }

  private async lookAtRecord(streamId: StreamId): Promise<RecordLook> {
    return { last: await lastRecordedEvent(await this.manager(), streamId) };
  }

  private manager(): Promise<JetStreamManager> {
    if (!this.jsm) {
      this.jsm = jetstreamManager(this.options.nc);
      // A failed start is retried by the next read.
      this.jsm.catch(() => {
        this.jsm = undefined;
      });
    }
    return this.jsm;
  }
}
