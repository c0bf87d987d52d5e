import type { StreamId } from "@heliograph/contracts";
import type { Logger, Redis } from "@heliograph/platform";
import type { JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { ACK_WAIT_MS, ConsumerSession } from "./consumer-session.js";
import { EventPublishing, type Publication } from "./event-publishing.js";
import { type EventsWriter, RecordConflictError } from "./events-writer.js";
import { isLeaseGone, type PartitionLeases } from "./lease.js";
import type { SequencerMetrics } from "./metrics.js";
import { PartitionNumbering } from "./partition-numbering.js";
import { Backoff, type Retried, retryWithBackoff } from "./retry.js";
import { HeadMovedError } from "./sequence-step.js";
import type { SequencerOptions } from "./sequencer.js";

/** What every partition worker of one sequencer shares. */
export interface WorkerContext {
  nc: NatsConnection;
  js: JetStreamClient;
  /** EVENTS, conditionally: one writer per process (its tips and its fallback to one publish per stream span the partitions). */
  writer: EventsWriter;
  /** Bumped each time the Redis connection is made again. */
  redisGeneration(): number;
  jsm: JetStreamManager;
  redis: Redis;
  leases: PartitionLeases;
  log: Logger;
  metrics: SequencerMetrics;
  config: SequencerOptions;
}

/**
 * Numbers one partition's INGEST messages while this instance holds its lease. Order is kept by
 * consuming in delivery order and, whenever that order may be broken (a delivery gap, an unexpected
 * redelivery, a NATS reconnect, a consumer error), recreating the durable consumer (a new
 * ConsumerSession): INGEST is a work queue, so the new consumer starts at the oldest unacked
 * message, and the Lua step skips what was applied already.
 *
 * A batch goes through three stages: numbered in Redis, published to EVENTS, acked on INGEST.
 */
export class PartitionWorker {
  private readonly log: Logger;
  private readonly numbering: PartitionNumbering;
  private readonly publishing: EventPublishing;
  private inFlight: JsMsg[] = [];
  /**
   * The last numbered batch while its EVENTS publishes are in flight: the next batch is numbered
   * meanwhile (Redis and JetStream work at once), and publishes only once this one is all stored
   * and acked, so EVENTS gets every stream's events in number order even when a publish is retried.
   */
  private publishingBatch: { batch: JsMsg[]; done: Promise<boolean> } | undefined;
  private session: ConsumerSession | undefined;
  private resyncReason: string | undefined;
  private stopping = false;
  private deadReason: string | undefined;
  /** Streams whose held list waits to be numbered (their halt was resolved). */
  private readonly drains = new Set<StreamId>();
  /** Streams a reader found behind EVENTS in Redis (or Redis reconnected): verify them between batches. */
  private readonly verifications = new Set<StreamId>();
  /** Drain failures in a row, across passes of the number loop. */
  private readonly drainBackoff = new Backoff();
  private wakeProcessor: (() => void) | undefined;
  private runPromise: Promise<void> = Promise.resolve();

  constructor(
    readonly partition: number,
    readonly epoch: number,
    private readonly ctx: WorkerContext,
  ) {
    this.log = ctx.log.child({ partition, epoch });
    const stopping = () => this.stopping;
    this.publishing = new EventPublishing(partition, { ...ctx, log: this.log, stopping });
    this.numbering = new PartitionNumbering(partition, epoch, {
      ...ctx,
      log: this.log,
      publishing: this.publishing,
      stopping,
      dead: () => this.deadReason !== undefined,
      requestDrain: (streamId) => this.requestDrain(streamId),
    });
  }

  start(): Promise<void> {
    this.runPromise = this.run();
    return this.runPromise;
  }

  /** Why the worker stopped by itself (its lease is gone), if it did. */
  get dead(): string | undefined {
    return this.deadReason;
  }

  /** Graceful: stop consuming, finish the in-flight batch. */
  stop(): Promise<void> {
    this.stopping = true;
    this.interrupt();
    return this.runPromise;
  }

  /** The lease is gone: no more writes, stop at once. */
  abort(reason: string): Promise<void> {
    this.kill(reason);
    return this.runPromise;
  }

  requestResync(reason: string): void {
    if (this.resyncReason || this.stopping) return;
    this.resyncReason = reason;
    this.ctx.metrics.resyncs.inc();
    this.log.warn({ reason }, "resyncing partition consumer");
    this.interrupt();
  }

  /** A resolved halt of `streamId` (or held publishes on a live stream): number its held list between batches. */
  requestDrain(streamId: StreamId): void {
    if (this.stopping || this.drains.has(streamId)) return;
    this.drains.add(streamId);
    this.wake();
  }

  /** A reader found the stream's Redis behind EVENTS (or Redis came back): verify and repair it between batches. */
  requestVerify(streamId: StreamId): void {
    if (this.stopping || this.verifications.has(streamId)) return;
    this.verifications.add(streamId);
    this.wake();
  }

  private kill(reason: string): void {
    if (!this.deadReason) {
      this.deadReason = reason;
      this.log.warn({ reason }, "partition worker stopping: lease lost");
    }
    this.stopping = true;
    this.interrupt();
  }

  private interrupt(): void {
    this.session?.interrupt();
    this.wake();
  }

  private wake(): void {
    const processor = this.wakeProcessor;
    this.wakeProcessor = undefined;
    processor?.();
  }

  private async run(): Promise<void> {
    // Held messages must not reach their ack wait while a batch retries or waits its turn.
    const keepAlive = setInterval(() => {
      for (const msg of this.inFlight) msg.working();
      for (const msg of this.publishingBatch?.batch ?? []) msg.working();
      this.session?.working();
    }, ACK_WAIT_MS / 3);
    try {
      while (!this.stopping) {
        let opened: Retried<void>;
        try {
          opened = await retryWithBackoff(() => this.openSession(), {
            operation: "consumer",
            log: this.log,
            metrics: this.ctx.metrics,
            message: "could not (re)create the partition consumer; retrying",
            isFatal: isLeaseGone,
            cancelled: () => this.stopping,
            stopping: () => this.stopping,
          });
        } catch (err) {
          this.kill((err as Error).message);
          break;
        }
        if (!opened.ok) break;
        await this.processLoop();
        await this.closeSession();
      }
    } finally {
      clearInterval(keepAlive);
      await this.closeSession();
    }
  }

  private async openSession(): Promise<void> {
    this.resyncReason = undefined;
    // A replaced owner must not recreate the consumer its successor is reading from.
    await this.numbering.assertEpoch();
    const { nc, js, jsm, config } = this.ctx;
    const session = await ConsumerSession.open(
      this.partition,
      { nc, js, jsm, log: this.log, batchMax: config.BATCH_MAX },
      {
        received: () => this.wake(),
        resync: (reason) => this.requestResync(reason),
        busy: () =>
          this.inFlight.length > 0 ||
          this.publishingBatch !== undefined ||
          this.drains.size > 0 ||
          this.verifications.size > 0,
      },
    );
    this.session = session;
    if (this.stopping || this.resyncReason) session.interrupt();
  }

  private async closeSession(): Promise<void> {
    const session = this.session;
    if (!session) return;
    this.session = undefined;
    this.wake();
    await session.close();
  }

  private async processLoop(): Promise<void> {
    try {
      await this.numberLoop();
    } finally {
      // The last batch's acks go out before the consumer is closed or recreated.
      await this.settlePublishing();
    }
  }

  /** Waits until the batch whose publishes are in flight is stored and acked; false when it was given up. */
  private async settlePublishing(): Promise<boolean> {
    const pending = this.publishingBatch;
    if (!pending) return true;
    const ok = await pending.done;
    if (this.publishingBatch === pending) this.publishingBatch = undefined;
    return ok;
  }

  private async numberLoop(): Promise<void> {
    while (!this.stopping && !this.resyncReason) {
      const session = this.session;
      // Verifications and drains run here, between batches, so a stream's step, repair and drain
      // never interleave and the EVENTS publishes of one stream go out in number order.
      if (this.verifications.size > 0) {
        if (!(await this.settlePublishing())) return;
        const streams = [...this.verifications];
        this.verifications.clear();
        for (const streamId of streams) this.numbering.unverify(streamId);
        if (!(await this.verify(streams))) return;
        // A stop or resync asked for meanwhile woke no one: look again before waiting.
        continue;
      }
      if (this.drains.size > 0) {
        if (!(await this.settlePublishing())) return;
        if (!(await this.runDrains())) return;
        if (!session?.size) continue;
      }
      if (!session?.size) {
        // Only wait when nothing is due: a wake that came while this loop was busy is not kept.
        if (this.stopping || this.resyncReason || this.verifications.size > 0 || this.drains.size > 0) continue;
        await new Promise<void>((resolve) => {
          this.wakeProcessor = resolve;
        });
        continue;
      }
      // Everything queued goes at once: an idle partition numbers a lone message without waiting.
      const batch = session.take(this.ctx.config.BATCH_MAX);
      this.inFlight = batch;
      try {
        let publications: Publication[] | undefined;
        for (;;) {
          // Never number on a stream whose Redis was not compared with EVENTS since the partition
          // was taken or Redis reconnected; no publish of it may be in flight meanwhile.
          const unverified = this.numbering.unverifiedOf(batch);
          if (unverified.length > 0) {
            if (!(await this.settlePublishing())) return;
            if (!(await this.verify(unverified))) return;
          }
          try {
            publications = await this.numbering.numberBatch(batch);
            break;
          } catch (err) {
            // Redis's head is not the one verified: it lost writes. Nothing was written; verify again.
            if (!(err instanceof HeadMovedError)) throw err;
            this.log.warn(
              { streamId: err.streamId, err },
              "Redis head moved under the sequencer; verifying the stream",
            );
            this.numbering.unverify(err.streamId);
          }
        }
        // The previous batch's events go out first; if they could not, neither may these.
        if (!(await this.settlePublishing())) return;
        if (publications) this.publishingBatch = { batch, done: this.publishBatch(batch, publications) };
      } catch (err) {
        if (isLeaseGone(err)) {
          this.kill(err.message);
          return;
        }
        this.log.error({ err }, "numbering batch failed");
        this.requestResync("numbering batch failed");
      } finally {
        this.inFlight = [];
      }
    }
  }

  /** Verifies streams against EVENTS, retrying failures; false when given up (stopping, lease gone). */
  private async verify(streams: StreamId[]): Promise<boolean> {
    try {
      const verified = await retryWithBackoff(() => this.numbering.verify(streams), {
        operation: "verify",
        log: this.log,
        metrics: this.ctx.metrics,
        message: "verifying streams against EVENTS failed; retrying",
        fields: () => ({ streams: streams.length }),
        isFatal: isLeaseGone,
        cancelled: () => this.deadReason !== undefined,
        stopping: () => this.stopping,
      });
      return verified.ok;
    } catch (err) {
      this.kill((err as Error).message);
      return false;
    }
  }

  /** One pass over the streams due a drain; a failed one is retried on the next pass. False when the lease is gone. */
  private async runDrains(): Promise<boolean> {
    for (const streamId of [...this.drains]) {
      if (this.stopping || this.resyncReason) break;
      try {
        const drained = await retryWithBackoff(() => this.numbering.drainOnce(streamId), {
          operation: "drain",
          log: this.log,
          metrics: this.ctx.metrics,
          message: "draining held publishes failed; retrying",
          fields: () => ({ streamId }),
          isFatal: isLeaseGone,
          attempts: 1,
          backoff: this.drainBackoff,
        });
        if (drained.ok && drained.value) this.drains.delete(streamId);
      } catch (err) {
        this.kill((err as Error).message);
        return false;
      }
    }
    return true;
  }

  /** 2. Publishes every numbered event, then 3. acks the whole batch: held and parked ones are kept in Redis. */
  private async publishBatch(batch: JsMsg[], publications: Publication[]): Promise<boolean> {
    try {
      if (!(await this.publishing.publishAll(publications))) return false;
      for (const msg of batch) msg.ack();
      this.publishing.announce(publications);
      return true;
    } catch (err) {
      if (err instanceof RecordConflictError) {
        // Not acked: redelivered once these streams are verified against the record again.
        for (const streamId of err.streamIds) this.numbering.unverify(streamId);
        this.log.warn({ streams: err.streamIds }, "EVENTS disagrees with Redis; verifying the streams again");
      } else this.log.error({ err }, "publishing a numbered batch failed");
      this.requestResync("publishing a numbered batch failed");
      return false;
    }
  }
}
