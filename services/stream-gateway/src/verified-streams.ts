import type { StreamId } from "@heliograph/contracts";
import { onRedisServerChange, type Redis } from "@heliograph/platform";

/**
 * What this gateway knows, per stream, about whether Redis holds everything EVENTS (the record)
 * holds (docs/architecture.md, "Stream gateway": reads while Redis is behind). Memory only, no I/O:
 * the read path asks it before and after its Redis reads, so a verified stream costs two map
 * look-ups and no round trip.
 *
 * Redis is trusted for a stream once, in the current Redis *generation*, its head was found at or
 * past the last event of `events.<stream_id>` read just before it (the sequencer writes Redis before
 * EVENTS, so a Redis that is not behind is never below). The generation changes whenever the Redis
 * connection is lost or re-made: the server on the other side may be a restarted or failed-over one.
 *
 * Within a generation, Redis can still go backwards (FLUSHALL, a restore, a replica promoted behind
 * one proxy address): a *floor* catches it. The floor of a stream is the highest of
 * - the highest event number the hub has seen in EVENTS for it: Redis had it before EVENTS did, and
 * - the highest head Redis answered for it in this generation (Redis heads never go down),
 * taken when a read starts, so it only counts what was true before the read's commands were sent;
 * a head below it means Redis is behind.
 */
export interface StreamCheck {
  readonly streamId: StreamId;
  readonly generation: number;
  /** Verified in this generation: Redis alone answers. Otherwise compare with EVENTS first. */
  readonly verified: boolean;
  /** Redis's head must be at least this, or Redis is behind. */
  readonly floor: number;
}

/**
 * `current`: serve Redis. `behind`: Redis lacks what EVENTS holds (serve EVENTS, ask the sequencer
 * to verify). `unsure`: the Redis connection changed during the read, so the answer may come from
 * another server (serve EVENTS this once).
 */
export type Verdict = "current" | "behind" | "unsure";

interface StreamMemory {
  /** Generation in which Redis was verified for this stream; -1 when it is not. */
  verifiedIn: number;
  /** Highest event number the hub saw in EVENTS. */
  recorded: number;
  /** Highest head Redis answered in generation `verifiedIn`. */
  redisHead: number;
  /** When a verify request for it was last sent (ms, monotonic), 0 never. */
  askedAt: number;
}

export interface VerifiedStreamsOptions {
  /** Streams remembered at most (least recently read forgotten first: their next read verifies again). */
  maxStreams: number;
  /** Least time between two verify requests for one stream. */
  askIntervalMs: number;
}

export class VerifiedStreams {
  private generationNumber = 0;
  // Insertion order is recency: a read moves its stream to the end; the first is evicted.
  private readonly streams = new Map<StreamId, StreamMemory>();

  constructor(private readonly options: VerifiedStreamsOptions) {}

  get generation(): number {
    return this.generationNumber;
  }

  get size(): number {
    return this.streams.size;
  }

  /** Redis's connection was lost or made again: nothing verified before holds any more. */
  newGeneration(): void {
    this.generationNumber++;
  }

  /** Called just before a read sends its Redis commands. */
  begin(streamId: StreamId): StreamCheck {
    const memory = this.streams.get(streamId);
    const verified = memory !== undefined && memory.verifiedIn === this.generationNumber;
    const floor = memory === undefined ? -1 : Math.max(memory.recorded, verified ? memory.redisHead : -1);
    return { streamId, generation: this.generationNumber, verified, floor };
  }

  /**
   * Called with the head Redis answered. `recordedLast` is the last event number in EVENTS (-1: none),
   * read before Redis was, when `check.verified` was false.
   */
  settle(check: StreamCheck, redisHead: number, recordedLast?: number): Verdict {
    if (check.generation !== this.generationNumber) return "unsure";
    const memory = this.touch(check.streamId);
    if (redisHead < check.floor) {
      memory.verifiedIn = -1;
      return "behind";
    }
    if (check.verified) {
      if (redisHead > memory.redisHead) memory.redisHead = redisHead;
      return "current";
    }
    if (recordedLast === undefined) return "unsure";
    if (recordedLast > memory.recorded) memory.recorded = recordedLast;
    if (redisHead >= recordedLast) {
      memory.verifiedIn = this.generationNumber;
      // EVENTS vouches for this head: a higher one seen before was never recorded (lost with Redis
      // before the sequencer published it) and must not keep the stream "behind".
      memory.redisHead = redisHead;
      return "current";
    }
    memory.verifiedIn = -1;
    return "behind";
  }

  /** The hub saw event `eventNumber` of the stream in EVENTS. Only streams read here are remembered. */
  noteRecorded(streamId: StreamId, eventNumber: number): void {
    const memory = this.streams.get(streamId);
    if (memory && eventNumber > memory.recorded) memory.recorded = eventNumber;
  }

  /**
   * Whether `after` is the stream's last event as far as this gateway knows without I/O: Redis was
   * verified for the stream in this generation, event `after` is the last the hub saw in EVENTS (or
   * EVENTS' last when it was looked at), and Redis never answered a head past it. A later event then
   * reaches the hub from EVENTS (the sequencer publishes every event it numbers, and a new owner
   * publishes what its predecessor numbered but did not), so a read would find nothing more.
   */
  atRecordedHead(streamId: StreamId, after: number): boolean {
    const memory = this.streams.get(streamId);
    return (
      memory !== undefined &&
      memory.verifiedIn === this.generationNumber &&
      memory.recorded === after &&
      memory.redisHead <= after
    );
  }

  /** Whether to send a verify request for the stream now (at most one per interval per stream). */
  shouldAsk(streamId: StreamId, now: number = performance.now()): boolean {
    const memory = this.streams.get(streamId);
    if (!memory) return false;
    if (memory.askedAt !== 0 && now - memory.askedAt < this.options.askIntervalMs) return false;
    memory.askedAt = now;
    return true;
  }

  private touch(streamId: StreamId): StreamMemory {
    let memory = this.streams.get(streamId);
    if (memory) {
      this.streams.delete(streamId);
    } else {
      memory = { verifiedIn: -1, recorded: -1, redisHead: -1, askedAt: 0 };
      if (this.streams.size >= this.options.maxStreams) {
        const oldest = this.streams.keys().next();
        if (!oldest.done) this.streams.delete(oldest.value);
      }
    }
    this.streams.set(streamId, memory);
    return memory;
  }
}

/**
 * Starts a new generation whenever the Redis client's connection closes or becomes ready again, or
 * (on a Redis Cluster) a node's does, a node leaves or joins, or a slot's master changes: a replica
 * promoted after a failover may lack writes its master acknowledged. ioredis emits close and ready
 * on the next tick, before it hands over any reply read on the new connection, so a read answered
 * by a new server always sees the new generation. Returns how to stop watching.
 */
export function watchRedisConnection(redis: Redis, streams: VerifiedStreams): () => void {
  return onRedisServerChange(redis, () => streams.newGeneration(), { onClose: true });
}
