import { type StreamId, streamIdOfSubject } from "@heliograph/contracts";
import { isRedisCluster, type Logger, type Redis } from "@heliograph/platform";
import { haltedStreamsKey, partitionEpochKey, resumableStreamsKey, streamKeys } from "@heliograph/store";
import type { JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import type { EventPublishing, Publication } from "./event-publishing.js";
import { type EventsWriter, RecordConflictError } from "./events-writer.js";
import { hotWindowOf } from "./hot-window.js";
import { heldStepInput, ingestStepInput } from "./ingest-input.js";
import { isLeaseGone, LeaseLostError, type PartitionLeases } from "./lease.js";
import type { SequencerMetrics } from "./metrics.js";
import { verifyStream } from "./record-repair.js";
import { retryWithBackoff } from "./retry.js";
import {
  HeadMovedError,
  runDrainStep,
  runSequenceStep,
  type StepInput,
  type StepOptions,
  type StepResult,
} from "./sequence-step.js";
import type { SequencerOptions } from "./sequencer.js";

export interface NumberingDeps {
  redis: Redis;
  js: JetStreamClient;
  jsm: JetStreamManager;
  writer: EventsWriter;
  /** Bumped each time the Redis connection is made again: what was verified before must be again. */
  redisGeneration(): number;
  leases: PartitionLeases;
  log: Logger;
  metrics: SequencerMetrics;
  config: SequencerOptions;
  publishing: EventPublishing;
  /** The worker is stopping: a failure gives the batch up (it is redelivered) instead of retrying. */
  stopping(): boolean;
  /** The worker lost its lease: nothing more may be written. */
  dead(): boolean;
  /** A stream holds publishes on a live stream: its held list is due to be drained. */
  requestDrain(streamId: StreamId): void;
}

/** Streams verified at once (each: two look-ups, and a replay when Redis is behind). */
const VERIFY_CONCURRENCY = 16;

interface Item {
  msg: JsMsg;
  input: StepInput;
}

/**
 * Numbers one partition's messages in Redis under one lease epoch: INGEST batches through the Lua
 * step, and the held lists of streams whose halt was resolved through its drain mode.
 */
export class PartitionNumbering {
  /**
   * Streams the last step found halted or holding publishes: their next step sends every held
   * entry up front. For the others the step asks for them only if it turns out to need them.
   */
  private readonly holding = new Set<StreamId>();
  /**
   * Single-node Redis: the step itself refuses unless the partition epoch is still ours, atomically
   * with its writes. On Cluster that key is in another slot, so it is read before each batch.
   */
  private readonly epochKey: string | undefined;
  /**
   * Streams verified against EVENTS since this worker took the partition and since Redis's
   * connection was last made: Redis's head as the last step left it, which the next step expects
   * (so Redis losing writes without a reconnect, a FLUSHALL, is caught by the step itself).
   */
  private readonly heads = new Map<StreamId, { head: number; generation: number }>();

  constructor(
    private readonly partition: number,
    private readonly epoch: number,
    private readonly deps: NumberingDeps,
  ) {
    this.epochKey = deps.config.REDIS_CLUSTER || isRedisCluster(deps.redis) ? undefined : partitionEpochKey(partition);
  }

  /** The streams of `batch` (in order of first appearance) not verified since the partition was taken or Redis reconnected. */
  unverifiedOf(batch: JsMsg[]): StreamId[] {
    const generation = this.deps.redisGeneration();
    const streams = new Set<StreamId>();
    for (const msg of batch) {
      const streamId = streamIdOfSubject(msg.subject);
      if (this.heads.get(streamId)?.generation !== generation || !this.deps.writer.tip(streamId)) streams.add(streamId);
    }
    return [...streams];
  }

  /** Forgets that a stream was verified: its next step waits for a verification. */
  unverify(streamId: StreamId): void {
    this.heads.delete(streamId);
    this.deps.writer.forget(streamId);
  }

  /**
   * Compares each stream's Redis state with EVENTS and repairs it (replays what Redis lacks,
   * publishes what EVENTS lacks); no publish of these streams may be in flight. Throws when the
   * lease is gone.
   */
  async verify(streamIds: StreamId[]): Promise<void> {
    await this.assertEpoch();
    const { deps } = this;
    const generation = deps.redisGeneration();
    // A few at a time: after a Redis reconnect every stream of the partition is verified.
    const queue = [...streamIds];
    const verifyNext = async (): Promise<void> => {
      for (let streamId = queue.shift(); streamId !== undefined; streamId = queue.shift()) {
        const head = await verifyStream(
          {
            redis: deps.redis,
            js: deps.js,
            jsm: deps.jsm,
            writer: deps.writer,
            log: deps.log,
            metrics: deps.metrics,
            epoch: this.epoch,
            appliedTtlSeconds: deps.config.APPLIED_TTL_SECONDS,
            partitionEpochKey: this.epochKey,
            hotWindow: hotWindowOf(streamId, deps.config),
          },
          streamId,
        );
        this.heads.set(streamId, { head, generation });
      }
    };
    await Promise.all(Array.from({ length: Math.min(VERIFY_CONCURRENCY, queue.length) }, verifyNext));
  }

  async assertEpoch(): Promise<void> {
    const current = await this.deps.leases.currentEpoch(this.partition);
    if (current !== this.epoch) throw new LeaseLostError(`partition epoch is now ${current}`);
  }

  /**
   * Numbers a batch in Redis (one Lua call per stream) and marks halted and resumable streams:
   * the events to publish, or undefined when the batch was given up (stopping). Throws when the
   * lease is gone (`isLeaseGone`).
   */
  async numberBatch(batch: JsMsg[]): Promise<Publication[] | undefined> {
    const { metrics, log } = this.deps;
    metrics.batchSize.observe(batch.length);
    const publishedAt = new Date().toISOString();
    const groups = new Map<StreamId, Item[]>();
    for (const msg of batch) {
      const streamId = streamIdOfSubject(msg.subject);
      let group = groups.get(streamId);
      if (!group) {
        group = [];
        groups.set(streamId, group);
      }
      group.push({ msg, input: ingestStepInput(msg, streamId, publishedAt) });
    }

    // 1. Number: one Lua call per stream, all sent together (ioredis pipelines them).
    const numbered = await retryWithBackoff(() => this.step(groups), {
      operation: "number",
      log,
      metrics,
      message: "numbering step failed; retrying the batch",
      fields: () => ({ messages: batch.length }),
      // A moved head is cured by verifying the stream, which the worker does between batches.
      isFatal: (err) => isLeaseGone(err) || err instanceof HeadMovedError,
      cancelled: this.deps.dead,
      stopping: this.deps.stopping,
      stoppingMessage: "numbering failed while stopping; the batch will be redelivered",
    });
    if (!numbered.ok) return undefined;
    const results = numbered.value;
    const numberedAtMs = Date.now();

    // The events to publish (in the next stage), and the streams to mark before any ack.
    const publications: Publication[] = [];
    const halted: StreamId[] = [];
    const resumable: StreamId[] = [];
    for (const [streamId, items] of groups) {
      const result = results.get(streamId);
      if (!result) continue;
      this.noteHolding(streamId, result);
      if (result.halted) halted.push(streamId);
      let heldCount = 0;
      items.forEach((item, i) => {
        const outcome = result.outcomes[i];
        if (outcome?.kind === "halted") this.recordHalt(streamId, item.input.ingestId, outcome.reason);
        if (outcome?.kind === "numbered") {
          if (outcome.fresh) {
            metrics.events.inc();
            // nats-server's clock against this process's: on one host, or NTP-synchronised ones.
            metrics.numberingDelay.observe(Math.max(0, numberedAtMs - item.msg.info.timestampNanos / 1e6) / 1000);
          }
          if (outcome.text)
            publications.push({
              streamId,
              eventNumber: outcome.eventNumber,
              text: outcome.text,
              ingestId: item.input.ingestId,
            });
          else
            log.warn(
              { streamId, eventNumber: outcome.eventNumber, ingestId: item.input.ingestId },
              "applied event is no longer in the log (trimmed once EVENTS held it, or Redis lost it); not republished",
            );
        } else if (outcome?.kind === "held" || outcome?.kind === "halted") heldCount++;
      });
      if (heldCount > 0) {
        metrics.halted.inc(heldCount);
        if (result.halted) log.warn({ streamId, messages: heldCount }, "stream is halted; messages held");
      }
      // Held publishes on a live stream: a resolution's drain is due (its notice may have been lost).
      if (!result.halted && result.held > 0) {
        resumable.push(streamId);
        this.deps.requestDrain(streamId);
      }
    }
    if (!(await this.markStreams(haltedStreamsKey, halted))) return undefined;
    if (!(await this.markStreams(resumableStreamsKey, resumable))) return undefined;
    return publications;
  }

  /** One attempt at numbering every stream of a batch. */
  private async step(groups: Map<StreamId, Item[]>): Promise<Map<StreamId, StepResult>> {
    const { redis, config, metrics } = this.deps;
    const t0 = performance.now();
    // The per-stream fence only guards streams the new owner has written; the partition epoch
    // guards the rest: checked inside each step (one round trip less per batch, and no window
    // between check and write), or here before the batch when Redis is a Cluster.
    if (!this.epochKey) await this.assertEpoch();
    const settled = await Promise.allSettled(
      [...groups].map(async ([streamId, items]) => {
        const result = await runSequenceStep(
          redis,
          streamId,
          this.epoch,
          config.APPLIED_TTL_SECONDS,
          items.map((item) => item.input),
          this.stepOptions(streamId),
        );
        // Kept even if another stream's step fails: the retry expects the head this one left.
        this.noteHead(streamId, result);
        return [streamId, result] as const;
      }),
    );
    metrics.stepSeconds.observe((performance.now() - t0) / 1000);
    const entries: (readonly [StreamId, StepResult])[] = [];
    for (const outcome of settled) {
      if (outcome.status === "rejected") throw outcome.reason;
      entries.push(outcome.value);
    }
    return new Map(entries);
  }

  /**
   * Numbers up to BATCH_MAX entries from the head of a live stream's held list, publishes them and
   * announces them. True when there is nothing more to do for now (held list empty, or the stream
   * halted again).
   */
  async drainOnce(streamId: StreamId): Promise<boolean> {
    const { redis, config, metrics, publishing } = this.deps;
    if (this.heads.get(streamId)?.generation !== this.deps.redisGeneration() || !this.deps.writer.tip(streamId)) {
      this.unverify(streamId);
      await this.verify([streamId]);
    }
    await this.assertEpoch();
    const keys = streamKeys(streamId);
    // Halted again (or not resolved yet): its resolution brings it back; no need to read the list.
    if ((await redis.hget(keys.status, "status")) === "halted") return true;
    const entries = await redis.lrange(keys.held, 0, config.BATCH_MAX - 1);
    if (entries.length === 0) {
      await redis.srem(resumableStreamsKey, streamId);
      return true;
    }
    const publishedAt = new Date().toISOString();
    const inputs = entries.map((text) => heldStepInput(text, streamId, publishedAt));
    const result = await runDrainStep(redis, streamId, this.epoch, config.APPLIED_TTL_SECONDS, inputs, {
      partitionEpochKey: this.epochKey,
      expectedHead: this.heads.get(streamId)?.head,
      ...this.trimOptions(streamId),
    });
    this.noteHead(streamId, result);
    this.noteHolding(streamId, result);
    const publications: Publication[] = [];
    result.outcomes.forEach((outcome, i) => {
      const ingestId = inputs[i]!.ingestId;
      if (outcome.kind === "numbered") {
        if (outcome.fresh) {
          metrics.events.inc();
          metrics.drained.inc();
        }
        if (outcome.text)
          publications.push({ streamId, eventNumber: outcome.eventNumber, text: outcome.text, ingestId });
      }
    });
    const halt = result.outcomes.at(-1);
    if (halt?.kind === "halted") this.recordHalt(streamId, inputs[result.outcomes.length - 1]!.ingestId, halt.reason);
    if (result.halted && !(await this.markStreams(haltedStreamsKey, [streamId]))) return false;
    try {
      if (!(await publishing.publishAll(publications))) return false;
    } catch (err) {
      // The record disagrees: verify the stream before its next drain.
      if (err instanceof RecordConflictError) this.unverify(streamId);
      throw err;
    }
    publishing.announce(publications);
    if (result.halted) return true;
    if (result.held === 0) {
      await redis.srem(resumableStreamsKey, streamId);
      // A publish may have been held between the drain and the SREM: look once more.
      return (await redis.llen(keys.held)) === 0;
    }
    return false;
  }

  /**
   * Adds streams to a global set (haltedStreamsKey for operators, resumableStreamsKey for drains),
   * before the batch is acked. Done for every step that sees the state, not only the one that made
   * it, so a crash between the step and this command heals on redelivery. False when given up
   * while stopping.
   */
  private async markStreams(key: string, streamIds: StreamId[]): Promise<boolean> {
    if (streamIds.length === 0) return true;
    const marked = await retryWithBackoff(() => this.deps.redis.sadd(key, ...streamIds), {
      operation: "mark-streams",
      log: this.deps.log,
      metrics: this.deps.metrics,
      message: "could not mark streams; retrying",
      fields: () => ({ key }),
      stopping: this.deps.stopping,
    });
    return marked.ok;
  }

  private stepOptions(streamId: StreamId): StepOptions {
    return {
      withHeld: this.holding.has(streamId),
      partitionEpochKey: this.epochKey,
      expectedHead: this.heads.get(streamId)?.head,
      ...this.trimOptions(streamId),
    };
  }

  /**
   * The stream's hot window, and the last event EVENTS is known to hold: events numbered since
   * (their publishes may be in flight, or lost with a crash) stay in the log whatever the window,
   * so the repair can publish them from it.
   */
  private trimOptions(streamId: StreamId): Pick<StepOptions, "hotWindow" | "recordedUpTo"> {
    return {
      hotWindow: hotWindowOf(streamId, this.deps.config),
      recordedUpTo: this.deps.writer.tip(streamId)?.eventNumber,
    };
  }

  /** The head a step left: its last event numbered now, if any. */
  private noteHead(streamId: StreamId, result: StepResult): void {
    const entry = this.heads.get(streamId);
    if (!entry) return;
    for (const outcome of result.outcomes)
      if (outcome.kind === "numbered" && outcome.fresh && outcome.eventNumber > entry.head)
        entry.head = outcome.eventNumber;
  }

  private noteHolding(streamId: StreamId, result: StepResult): void {
    if (result.halted || result.held > 0) this.holding.add(streamId);
    else this.holding.delete(streamId);
  }

  /** Logs and counts a halt the step or a drain just made. */
  private recordHalt(streamId: StreamId, ingestId: string, reason: string): void {
    this.deps.metrics.halts.inc();
    this.deps.log.error(
      { stream_id: streamId, reason, ingest_id: ingestId },
      "stream halted: a publish breaks its rules",
    );
  }
}
