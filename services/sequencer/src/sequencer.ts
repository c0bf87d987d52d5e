import {
  eventMsgId,
  eventsSubject,
  INGEST_STREAM,
  IngestMessage,
  ingestPartitionFilter,
  partitionOf,
  RESUME_SUBJECT,
  ResumeNotice,
  type SequencedNotice,
  type StreamId,
  sequencedSubject,
  sequencerConsumerName,
  streamIdOfSubject,
} from "@heliograph/contracts";
import { Counter, Gauge, Histogram, JetStreamPublisher, type Logger, type Registry } from "@heliograph/platform";
import {
  haltedStreamsKey,
  parseHeldEntry,
  partitionEpochKey,
  resumableStreamsKey,
  streamKeys,
} from "@heliograph/store";
import {
  AckPolicy,
  type ConsumerMessages,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  jetstream,
  jetstreamManager,
} from "@nats-io/jetstream";
import type { NatsConnection, QueuedIterator, Status, Subscription } from "@nats-io/nats-core";
import type { Redis } from "ioredis";
import type { SequencerConfig } from "./config.js";
import { PartitionLeases } from "./lease.js";
import {
  runDrainStep,
  runSequenceStep,
  StaleEpochError,
  type StepInput,
  type StepOptions,
  type StepResult,
  stepInputOf,
  unreadableStepInput,
} from "./sequence-step.js";

export type SequencerOptions = Pick<
  SequencerConfig,
  "SEQUENCER_ID" | "PARTITIONS" | "LEASE_TTL_MS" | "BATCH_MAX" | "APPLIED_TTL_SECONDS"
> &
  Partial<Pick<SequencerConfig, "REDIS_CLUSTER">>;

export interface SequencerDeps {
  nc: NatsConnection;
  redis: Redis;
  log: Logger;
  metrics: Registry;
  config: SequencerOptions;
}

export interface Sequencer {
  /**
   * Registers the instance and takes free partitions up to its fair share (the partition count
   * over the live instances, rounded up), then keeps balancing; resolves after the first attempt.
   */
  start(): Promise<void>;
  /** Stops consuming, finishes each in-flight batch (its acks go out) and releases the leases. */
  stop(): Promise<void>;
  ownedPartitions(): number[];
}

const ACK_WAIT_MS = 30_000;
const MAX_ACK_PENDING = 20_000;
const CONSUME_MAX_MESSAGES = 1_000;
const CONSUME_EXPIRES_MS = 4_000;
/** The JetStream client's default request timeout, as `js.publish` had. */
const EVENTS_PUBLISH_TIMEOUT_MS = 5_000;
/** How often each instance looks for resolved halts of its partitions (a lost ResumeNotice). */
const RESUME_SCAN_MS = 1_000;
/**
 * How often an idle partition asks its consumer whether it holds messages nothing delivered: two
 * such answers in a row, with no delivery between them, recreate the consumer (stalledConsumer).
 */
const STALL_CHECK_MS = 2_500;
/**
 * An instance not seen for this many lease TTLs no longer counts toward the fair share. Heartbeat
 * and renewals go out together every TTL/3, so an instance silent for over a TTL has lost every
 * lease it held: counting it longer would only leave a crashed instance's partitions without an
 * owner for longer (the others stay at their smaller share until it is forgotten). The half TTL
 * on top absorbs a slow tick.
 */
const LIVE_WINDOW_TTLS = 1.5;
const nanos = (ms: number) => ms * 1_000_000;
const backoffMs = (attempt: number) => Math.min(50 * 2 ** attempt, 2_000);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

class LeaseLostError extends Error {
  override readonly name = "LeaseLostError";
}

function createMetrics(registry: Registry) {
  const get = <T>(name: string, make: () => T): T => (registry.getSingleMetric(name) as T | undefined) ?? make();
  return {
    events: get(
      "heliograph_sequencer_events_total",
      () => new Counter({ name: "heliograph_sequencer_events_total", help: "Events numbered", registers: [registry] }),
    ),
    batchSize: get(
      "heliograph_sequencer_batch_size",
      () =>
        new Histogram({
          name: "heliograph_sequencer_batch_size",
          help: "INGEST messages per numbering batch",
          buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000],
          registers: [registry],
        }),
    ),
    stepSeconds: get(
      "heliograph_sequencer_step_seconds",
      () =>
        new Histogram({
          name: "heliograph_sequencer_step_seconds",
          help: "Duration of a batch's Redis numbering step (all its streams)",
          buckets: [0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
          registers: [registry],
        }),
    ),
    retries: get(
      "heliograph_sequencer_retries_total",
      () =>
        new Counter({
          name: "heliograph_sequencer_retries_total",
          help: "Retries after a transient failure, by operation",
          labelNames: ["operation"] as const,
          registers: [registry],
        }),
    ),
    halted: get(
      "heliograph_sequencer_halted_messages_total",
      () =>
        new Counter({
          name: "heliograph_sequencer_halted_messages_total",
          help: "INGEST messages kept in a held list, not numbered, because their stream is halted",
          registers: [registry],
        }),
    ),
    halts: get(
      "heliograph_sequencer_halts_total",
      () =>
        new Counter({
          name: "heliograph_sequencer_halts_total",
          help: "Streams halted by a message that breaks their integrity rules",
          registers: [registry],
        }),
    ),
    drained: get(
      "heliograph_sequencer_drained_total",
      () =>
        new Counter({
          name: "heliograph_sequencer_drained_total",
          help: "Held publishes numbered after their stream's halt was resolved",
          registers: [registry],
        }),
    ),
    resyncs: get(
      "heliograph_sequencer_resyncs_total",
      () =>
        new Counter({
          name: "heliograph_sequencer_resyncs_total",
          help: "Partition consumers recreated to restore INGEST order",
          registers: [registry],
        }),
    ),
    owned: get(
      "heliograph_sequencer_partitions_owned",
      () =>
        new Gauge({
          name: "heliograph_sequencer_partitions_owned",
          help: "Partitions this instance holds a lease on",
          registers: [registry],
        }),
    ),
  };
}
type Metrics = ReturnType<typeof createMetrics>;

interface WorkerContext {
  nc: NatsConnection;
  js: JetStreamClient;
  /** EVENTS publishes: PubAcks on one subscription, not a request each. */
  publisher: JetStreamPublisher;
  jsm: JetStreamManager;
  redis: Redis;
  leases: PartitionLeases;
  log: Logger;
  metrics: Metrics;
  config: SequencerOptions;
}

/** One consumer incarnation: delivery sequences restart at 1 each time it is recreated. */
interface Session {
  messages: ConsumerMessages;
  nextDelivery: number;
  closing: boolean;
  intake: Promise<void>;
}

interface Item {
  msg: JsMsg;
  input: StepInput;
}

interface Publication {
  streamId: StreamId;
  eventNumber: number;
  text: string;
  ingestId: string;
}

/** The step input of an INGEST message; a message that cannot be read halts its stream when its turn comes. */
function ingestStepInput(msg: JsMsg, streamId: StreamId, publishedAt: string): StepInput {
  // Only an unreadable message needs the header (decoding headers costs as much as the schema check).
  const headerId = () => msg.headers?.get("Nats-Msg-Id") || `ingest-seq-${msg.seq}`;
  const text = msg.string();
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return unreadableStepInput(headerId(), text, "the INGEST message is not JSON");
  }
  const parsed = IngestMessage.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return unreadableStepInput(
      headerId(),
      text,
      `the INGEST message does not match its schema: ${issue?.path.join(".")} ${issue?.message}`,
    );
  }
  if (parsed.data.stream_id !== streamId)
    return unreadableStepInput(headerId(), text, `the INGEST message names stream ${parsed.data.stream_id}`);
  return stepInputOf(parsed.data, text, publishedAt);
}

/** The step input of a held-list entry: `heldEntry` is the entry text itself, so the drain can check it is still the head. */
function heldStepInput(entryText: string, streamId: StreamId, publishedAt: string): StepInput {
  const entry = parseHeldEntry(entryText);
  const message = entry.message;
  let input: StepInput;
  if (!message) input = unreadableStepInput(entry.ingest_id, entry.raw ?? "", entry.problem ?? "unreadable");
  else if (message.stream_id !== streamId)
    input = unreadableStepInput(entry.ingest_id, "", `the held message names stream ${message.stream_id}`);
  else input = stepInputOf(message, "", publishedAt);
  return { ...input, heldEntry: entryText };
}

/**
 * Numbers one partition's INGEST messages while this instance holds its lease. Order is kept by
 * consuming in delivery order and, whenever that order may be broken (a delivery gap, an unexpected
 * redelivery, a NATS reconnect, a consumer error), recreating the durable consumer: INGEST is a
 * work queue, so the new consumer starts at the oldest unacked message, and the Lua step skips what
 * was applied already.
 */
class PartitionWorker {
  private readonly log: Logger;
  private readonly consumerName: string;
  private queue: JsMsg[] = [];
  private inFlight: JsMsg[] = [];
  /**
   * The last numbered batch while its EVENTS publishes are in flight: the next batch is numbered
   * meanwhile (Redis and JetStream work at once), and publishes only once this one is all stored
   * and acked, so EVENTS gets every stream's events in number order even when a publish is retried.
   */
  private publishing: { batch: JsMsg[]; done: Promise<boolean> } | undefined;
  private session: Session | undefined;
  private resyncReason: string | undefined;
  private stopping = false;
  private deadReason: string | undefined;
  /** Streams whose held list waits to be numbered (their halt was resolved). */
  private readonly drains = new Set<StreamId>();
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
  private wakeProcessor: (() => void) | undefined;
  private wakeIntake: (() => void) | undefined;
  private runPromise: Promise<void> = Promise.resolve();

  constructor(
    readonly partition: number,
    readonly epoch: number,
    private readonly ctx: WorkerContext,
  ) {
    this.log = ctx.log.child({ partition, epoch });
    this.consumerName = sequencerConsumerName(partition);
    this.epochKey = ctx.config.REDIS_CLUSTER ? undefined : partitionEpochKey(partition);
  }

  private stepOptions(streamId: StreamId): StepOptions {
    return { withHeld: this.holding.has(streamId), partitionEpochKey: this.epochKey };
  }

  private noteHolding(streamId: StreamId, result: StepResult): void {
    if (result.halted || result.held > 0) this.holding.add(streamId);
    else this.holding.delete(streamId);
  }

  start(): Promise<void> {
    this.runPromise = this.run();
    return this.runPromise;
  }

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

  private kill(reason: string): void {
    if (!this.deadReason) {
      this.deadReason = reason;
      this.log.warn({ reason }, "partition worker stopping: lease lost");
    }
    this.stopping = true;
    this.interrupt();
  }

  private interrupt(): void {
    const session = this.session;
    if (session && !session.closing) {
      session.closing = true;
      void session.messages.close().catch(() => {});
    }
    this.wake();
  }

  private wake(): void {
    const processor = this.wakeProcessor;
    const intake = this.wakeIntake;
    this.wakeProcessor = undefined;
    this.wakeIntake = undefined;
    processor?.();
    intake?.();
  }

  private async run(): Promise<void> {
    // Held messages must not reach their ack wait while a batch retries or waits its turn.
    const keepAlive = setInterval(() => {
      for (const msg of this.inFlight) msg.working();
      for (const msg of this.publishing?.batch ?? []) msg.working();
      for (const msg of this.queue) msg.working();
    }, ACK_WAIT_MS / 3);
    let attempt = 0;
    try {
      while (!this.stopping) {
        try {
          await this.openSession();
          attempt = 0;
        } catch (err) {
          if (err instanceof LeaseLostError) {
            this.kill(err.message);
            break;
          }
          if (this.stopping) break;
          this.ctx.metrics.retries.inc({ operation: "consumer" });
          this.log.warn({ err, attempt }, "could not (re)create the partition consumer; retrying");
          await sleep(backoffMs(attempt++));
          continue;
        }
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
    await this.assertEpoch();
    const { jsm, js } = this.ctx;
    try {
      await jsm.consumers.delete(INGEST_STREAM, this.consumerName);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    await jsm.consumers.add(INGEST_STREAM, {
      durable_name: this.consumerName,
      filter_subject: ingestPartitionFilter(this.partition),
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(ACK_WAIT_MS),
      max_deliver: -1,
      max_ack_pending: MAX_ACK_PENDING,
      deliver_policy: DeliverPolicy.All,
    });
    const consumer = await js.consumers.get(INGEST_STREAM, this.consumerName);
    // Short pulls: a pull request lost in a JetStream leader change shows as missed heartbeats
    // (every expires/2) within seconds, and the worker resyncs, instead of idling for a minute.
    const messages = await consumer.consume({ max_messages: CONSUME_MAX_MESSAGES, expires: CONSUME_EXPIRES_MS });
    const session: Session = { messages, nextDelivery: 1, closing: false, intake: Promise.resolve() };
    this.session = session;
    if (this.stopping || this.resyncReason) session.closing = true;
    session.intake = this.intake(session);
    void this.watchConsumer(session);
    void this.watchProgress(session);
    this.log.debug("partition consumer ready");
  }

  private async closeSession(): Promise<void> {
    const session = this.session;
    if (!session) return;
    this.session = undefined;
    session.closing = true;
    this.wake();
    await session.messages.close().catch(() => {});
    await session.intake;
    // Whatever was received and not numbered comes back, in order, from the recreated consumer.
    this.queue = [];
    // Acks of the last batch should reach the server before the consumer is deleted; if they do
    // not, those messages come back and the Lua step skips them.
    await this.ctx.nc.flush().catch(() => {});
  }

  private async intake(session: Session): Promise<void> {
    const highWater = Math.max(this.ctx.config.BATCH_MAX * 4, CONSUME_MAX_MESSAGES);
    try {
      for await (const msg of session.messages) {
        if (session.closing) break;
        const info = msg.info;
        if (info.deliverySequence !== session.nextDelivery) {
          this.requestResync(`delivery sequence ${info.deliverySequence}, expected ${session.nextDelivery}`);
          break;
        }
        session.nextDelivery++;
        if (info.deliveryCount > 1 || msg.redelivered) {
          this.requestResync(`unexpected redelivery of stream sequence ${msg.seq}`);
          break;
        }
        this.queue.push(msg);
        this.wake();
        while (this.queue.length >= highWater && !session.closing) {
          await new Promise<void>((resolve) => {
            this.wakeIntake = resolve;
          });
        }
      }
    } catch (err) {
      if (!session.closing) this.log.warn({ err }, "partition consumer failed");
    }
    if (!session.closing) this.requestResync("partition consumer ended");
  }

  private async watchConsumer(session: Session): Promise<void> {
    try {
      for await (const status of session.messages.status()) {
        if (session.closing) break;
        switch (status.type) {
          case "heartbeats_missed":
          case "consumer_deleted":
          case "consumer_not_found":
          case "stream_not_found":
            this.requestResync(`consumer status ${status.type}`);
            return;
          default:
            break;
        }
      }
    } catch (err) {
      if (!session.closing) this.log.debug({ err }, "consumer status iterator ended");
    }
  }

  /**
   * After a JetStream leader change the consumer can hold messages for this partition (undelivered,
   * or delivered with their acks lost with the old leader) while the client's pull looks healthy:
   * nats-server 2.9 does not carry a waiting pull request over to the new leader reliably, and
   * lost acks only come back after ACK_WAIT. Neither shows as missed heartbeats, so the partition
   * would sit idle for 30 s or more. Recreating the consumer restarts delivery at the oldest
   * unacked message (the Lua step skips what was applied).
   */
  private async watchProgress(session: Session): Promise<void> {
    let suspect = false;
    while (!session.closing) {
      const delivered = session.nextDelivery;
      await new Promise<void>((resolve) => setTimeout(resolve, STALL_CHECK_MS).unref());
      const idle = () => session.nextDelivery === delivered && this.queue.length === 0 && this.inFlight.length === 0;
      if (session.closing) return;
      if (!idle()) {
        suspect = false;
        continue;
      }
      let held: number;
      try {
        const info = await this.ctx.jsm.consumers.info(INGEST_STREAM, this.consumerName);
        held = info.num_pending + info.num_ack_pending;
      } catch {
        // Unreachable or gone: the heartbeat watch and the reconnect resync cover that.
        continue;
      }
      if (session.closing) return;
      if (!idle() || held === 0) {
        suspect = false;
        continue;
      }
      if (suspect) {
        this.requestResync(`consumer holds ${held} messages, none delivered for ${2 * STALL_CHECK_MS} ms`);
        return;
      }
      suspect = true;
    }
  }

  /** A resolved halt of `streamId` (or held publishes on a live stream): number its held list between batches. */
  requestDrain(streamId: StreamId): void {
    if (this.stopping || this.drains.has(streamId)) return;
    this.drains.add(streamId);
    this.wake();
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
    const publishing = this.publishing;
    if (!publishing) return true;
    const ok = await publishing.done;
    if (this.publishing === publishing) this.publishing = undefined;
    return ok;
  }

  private async numberLoop(): Promise<void> {
    let drainFailures = 0;
    while (!this.stopping && !this.resyncReason) {
      // Drains run here, between batches, so a stream's step and drain never interleave and the
      // EVENTS publishes of one stream go out in number order.
      if (this.drains.size > 0) {
        if (!(await this.settlePublishing())) return;
        for (const streamId of [...this.drains]) {
          if (this.stopping || this.resyncReason) break;
          try {
            if (await this.drainOnce(streamId)) this.drains.delete(streamId);
            drainFailures = 0;
          } catch (err) {
            if (err instanceof StaleEpochError || err instanceof LeaseLostError) {
              this.kill(err.message);
              return;
            }
            this.ctx.metrics.retries.inc({ operation: "drain" });
            this.log.warn({ err, streamId }, "draining held publishes failed; retrying");
            await sleep(backoffMs(drainFailures++));
          }
        }
        if (this.queue.length === 0) continue;
      }
      if (this.queue.length === 0) {
        await new Promise<void>((resolve) => {
          this.wakeProcessor = resolve;
        });
        continue;
      }
      // Everything queued goes at once: an idle partition numbers a lone message without waiting.
      const batch = this.queue.splice(0, this.ctx.config.BATCH_MAX);
      this.wake();
      this.inFlight = batch;
      try {
        const publications = await this.numberBatch(batch);
        // The previous batch's events go out first; if they could not, neither may these.
        if (!(await this.settlePublishing())) return;
        if (publications) this.publishing = { batch, done: this.publishBatch(batch, publications) };
      } catch (err) {
        this.log.error({ err }, "numbering batch failed");
        this.requestResync("numbering batch failed");
      } finally {
        this.inFlight = [];
      }
    }
  }

  private async assertEpoch(): Promise<void> {
    const current = await this.ctx.leases.currentEpoch(this.partition);
    if (current !== this.epoch) throw new LeaseLostError(`partition epoch is now ${current}`);
  }

  /** Logs and counts a halt the step or a drain just made. */
  private recordHalt(streamId: StreamId, ingestId: string, reason: string): void {
    this.ctx.metrics.halts.inc();
    this.log.error({ stream_id: streamId, reason, ingest_id: ingestId }, "stream halted: a publish breaks its rules");
  }

  /**
   * Adds streams to a global set (haltedStreamsKey for operators, resumableStreamsKey for drains),
   * before the batch is acked. Done for every step that sees the state, not only the one that made
   * it, so a crash between the step and this command heals on redelivery.
   */
  private async markStreams(key: string, streamIds: StreamId[]): Promise<boolean> {
    for (let attempt = 0; streamIds.length > 0; attempt++) {
      try {
        await this.ctx.redis.sadd(key, ...streamIds);
        return true;
      } catch (err) {
        if (this.stopping) return false;
        this.ctx.metrics.retries.inc({ operation: "mark-streams" });
        this.log.warn({ err, attempt, key }, "could not mark streams; retrying");
        await sleep(backoffMs(attempt));
      }
    }
    return true;
  }

  /**
   * Numbers up to BATCH_MAX entries from the head of a live stream's held list. True when there is
   * nothing more to do for now (held list empty, or the stream halted again).
   */
  private async drainOnce(streamId: StreamId): Promise<boolean> {
    const { redis, config, metrics } = this.ctx;
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
    });
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
    if (!(await this.publishAll(publications))) return false;
    this.announce(publications);
    if (result.halted) return true;
    if (result.held === 0) {
      await redis.srem(resumableStreamsKey, streamId);
      // A publish may have been held between the drain and the SREM: look once more.
      return (await redis.llen(keys.held)) === 0;
    }
    return false;
  }

  /** Tells the gateways (201 waits) what was numbered. */
  private announce(publications: Publication[]): void {
    if (publications.length === 0) return;
    const notice: SequencedNotice = publications.map((p) => [p.ingestId, p.streamId, p.eventNumber]);
    try {
      this.ctx.nc.publish(sequencedSubject(this.partition), JSON.stringify(notice));
    } catch (err) {
      // Best effort: a waiting publisher that misses it falls back to its status lookup.
      this.log.warn({ err }, "could not publish the sequenced notice");
    }
  }

  /**
   * Numbers a batch in Redis (one Lua call per stream) and marks halted and resumable streams:
   * the events to publish, or undefined when the batch was given up (lease lost, stopping).
   */
  private async numberBatch(batch: JsMsg[]): Promise<Publication[] | undefined> {
    const { metrics, config, redis } = this.ctx;
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
    let results: Map<StreamId, StepResult> | undefined;
    for (let attempt = 0; !results; attempt++) {
      if (this.deadReason) return undefined;
      const t0 = performance.now();
      try {
        // The per-stream fence only guards streams the new owner has written; the partition epoch
        // guards the rest: checked inside each step (one round trip less per batch, and no window
        // between check and write), or here before the batch when Redis is a Cluster.
        if (!this.epochKey) await this.assertEpoch();
        const entries = await Promise.all(
          [...groups].map(async ([streamId, items]) => {
            const result = await runSequenceStep(
              redis,
              streamId,
              this.epoch,
              config.APPLIED_TTL_SECONDS,
              items.map((item) => item.input),
              this.stepOptions(streamId),
            );
            return [streamId, result] as const;
          }),
        );
        results = new Map(entries);
        metrics.stepSeconds.observe((performance.now() - t0) / 1000);
      } catch (err) {
        if (err instanceof StaleEpochError || err instanceof LeaseLostError) {
          this.kill(err.message);
          return undefined;
        }
        if (this.stopping) {
          this.log.warn({ err }, "numbering failed while stopping; the batch will be redelivered");
          return undefined;
        }
        metrics.retries.inc({ operation: "number" });
        this.log.warn({ err, attempt, messages: batch.length }, "numbering step failed; retrying the batch");
        await sleep(backoffMs(attempt));
      }
    }

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
          if (outcome.fresh) metrics.events.inc();
          if (outcome.text)
            publications.push({
              streamId,
              eventNumber: outcome.eventNumber,
              text: outcome.text,
              ingestId: item.input.ingestId,
            });
          else
            this.log.warn(
              { streamId, eventNumber: outcome.eventNumber, ingestId: item.input.ingestId },
              "applied event is missing from the log; not republished",
            );
        } else if (outcome?.kind === "held" || outcome?.kind === "halted") heldCount++;
      });
      if (heldCount > 0) {
        metrics.halted.inc(heldCount);
        if (result.halted) this.log.warn({ streamId, messages: heldCount }, "stream is halted; messages held");
      }
      // Held publishes on a live stream: a resolution's drain is due (its notice may have been lost).
      if (!result.halted && result.held > 0) {
        resumable.push(streamId);
        this.requestDrain(streamId);
      }
    }
    if (!(await this.markStreams(haltedStreamsKey, halted))) return undefined;
    if (!(await this.markStreams(resumableStreamsKey, resumable))) return undefined;
    return publications;
  }

  /** 2. Publishes every numbered event, then 3. acks the whole batch: held and parked ones are kept in Redis. */
  private async publishBatch(batch: JsMsg[], publications: Publication[]): Promise<boolean> {
    try {
      if (!(await this.publishAll(publications))) return false;
      for (const msg of batch) msg.ack();
      this.announce(publications);
      return true;
    } catch (err) {
      this.log.error({ err }, "publishing a numbered batch failed");
      this.requestResync("publishing a numbered batch failed");
      return false;
    }
  }

  /** Publishes without waiting one before the next; retries failures with their same msgID. */
  private async publishAll(publications: Publication[]): Promise<boolean> {
    let pending = publications;
    for (let attempt = 0; pending.length > 0; attempt++) {
      const results = await Promise.allSettled(
        pending.map((p) =>
          this.ctx.publisher.publish(eventsSubject(p.streamId), p.text, eventMsgId(p.streamId, p.eventNumber)),
        ),
      );
      const failed: Publication[] = [];
      let firstError: unknown;
      results.forEach((result, i) => {
        if (result.status === "rejected") {
          failed.push(pending[i]!);
          firstError ??= result.reason;
        }
      });
      if (failed.length === 0) return true;
      // Numbered in Redis already: whoever gets these messages next republishes the stored text.
      if (this.stopping) {
        this.log.warn({ err: firstError, failed: failed.length }, "EVENTS publish failed while stopping");
        return false;
      }
      this.ctx.metrics.retries.inc({ operation: "publish" });
      this.log.warn({ err: firstError, failed: failed.length, attempt }, "EVENTS publish failed; retrying");
      await sleep(backoffMs(attempt));
      pending = failed;
    }
    return true;
  }
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; message?: string; code?: number; api_error?: { err_code?: number } };
  return e?.api_error?.err_code === 10014 || /consumer not found/i.test(e?.message ?? "");
}

function shuffled(count: number): number[] {
  const order = Array.from({ length: count }, (_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

export function createSequencer(deps: SequencerDeps): Sequencer {
  const { nc, redis, config } = deps;
  const log = deps.log.child({ component: "sequencer", sequencerId: config.SEQUENCER_ID });
  const metrics = createMetrics(deps.metrics);
  const leases = new PartitionLeases(redis, config.SEQUENCER_ID, config.LEASE_TTL_MS);
  const workers = new Map<number, PartitionWorker>();
  const lastRenewed = new Map<number, number>();
  /** Partitions whose worker is still winding down: not taken again until it is done. */
  const retiring = new Map<number, Promise<void>>();
  let ctx: WorkerContext | undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let ticking: Promise<void> = Promise.resolve();
  let statusWatch: QueuedIterator<Status> | undefined;
  let resumeSub: Subscription | undefined;
  let resumeScan: NodeJS.Timeout | undefined;
  let scanning = false;

  /** The owning worker of a stream's partition numbers its held list; other instances ignore it. */
  function drainIfOwned(streamId: StreamId): void {
    workers.get(partitionOf(streamId, config.PARTITIONS))?.requestDrain(streamId);
  }

  async function scanResumable(): Promise<void> {
    if (scanning || workers.size === 0) return;
    scanning = true;
    try {
      for (const streamId of await redis.smembers(resumableStreamsKey)) drainIfOwned(streamId);
    } catch (err) {
      log.warn({ err }, "could not read the resumable streams");
    } finally {
      scanning = false;
    }
  }

  const setOwnedGauge = () => metrics.owned.set(workers.size);

  /** Partitions released to rebalance: their worker finishes its batch while the lease is kept. */
  const handingOver = new Map<number, PartitionWorker>();
  /** Live instances, this one included, as of the last heartbeat. */
  let liveInstances = 1;
  const fairShare = () => Math.ceil(config.PARTITIONS / Math.max(1, liveInstances));

  function retire(partition: number, worker: PartitionWorker, reason: string): void {
    if (workers.get(partition) !== worker) return;
    workers.delete(partition);
    lastRenewed.delete(partition);
    setOwnedGauge();
    const done = worker
      .abort(reason)
      .then(() => leases.release(partition))
      .catch((err) => log.warn({ err, partition }, "could not release a lost lease"))
      .then(() => {
        retiring.delete(partition);
      });
    retiring.set(partition, done);
  }

  /**
   * Gives a partition up for another instance to take: the worker stops after its in-flight batch
   * (numbered, published, acked) while the lease is still renewed, then the lease is released. The
   * taker's higher epoch fences anything that still came late.
   */
  function handOver(partition: number, worker: PartitionWorker, share: number): void {
    if (workers.get(partition) !== worker) return;
    workers.delete(partition);
    handingOver.set(partition, worker);
    setOwnedGauge();
    log.info({ partition, share, liveInstances }, "releasing a partition to balance the instances");
    const done = worker
      .stop()
      .then(() => leases.release(partition))
      .catch((err) => log.warn({ err, partition }, "could not release a partition lease"))
      .then(() => {
        handingOver.delete(partition);
        lastRenewed.delete(partition);
        retiring.delete(partition);
      });
    retiring.set(partition, done);
  }

  function startWorker(partition: number, epoch: number): void {
    if (!ctx) return;
    const worker = new PartitionWorker(partition, epoch, ctx);
    workers.set(partition, worker);
    lastRenewed.set(partition, Date.now());
    setOwnedGauge();
    log.info({ partition, epoch }, "partition acquired");
    void worker.start().then(() => {
      // The worker ended by itself (its epoch was superseded): give the partition up.
      if (worker.dead) retire(partition, worker, worker.dead);
    });
  }

  function lose(partition: number, worker: PartitionWorker, reason: string): void {
    if (handingOver.get(partition) === worker) void worker.abort(reason);
    else retire(partition, worker, reason);
  }

  async function renewAll(): Promise<void> {
    await Promise.all(
      [...workers, ...handingOver].map(async ([partition, worker]) => {
        try {
          if (await leases.renew(partition)) lastRenewed.set(partition, Date.now());
          else lose(partition, worker, "lease taken over");
        } catch (err) {
          const since = Date.now() - (lastRenewed.get(partition) ?? 0);
          if (since >= config.LEASE_TTL_MS) lose(partition, worker, "lease could not be renewed in time");
          else log.warn({ err, partition }, "lease renewal failed; retrying");
        }
      }),
    );
  }

  async function heartbeat(): Promise<void> {
    try {
      liveInstances = Math.max(1, await leases.heartbeat(Math.round(LIVE_WINDOW_TTLS * config.LEASE_TTL_MS)));
    } catch (err) {
      // The last count stands; the next tick tries again.
      log.warn({ err }, "could not register this instance as live");
    }
  }

  /** Tries free partitions, a round of `room` at a time, until `room` are taken or none is left. */
  async function acquireUpTo(room: number): Promise<void> {
    const candidates = shuffled(config.PARTITIONS).filter((p) => !workers.has(p) && !retiring.has(p));
    for (let next = 0; room > 0 && next < candidates.length && !stopped; ) {
      const round = candidates.slice(next, next + room);
      next += round.length;
      const taken = await Promise.all(
        round.map(async (partition) => {
          try {
            const epoch = await leases.acquire(partition);
            if (epoch === undefined) return false;
            if (stopped) {
              await leases.release(partition);
              return false;
            }
            startWorker(partition, epoch);
            return true;
          } catch (err) {
            log.warn({ err, partition }, "could not acquire a partition lease");
            return false;
          }
        }),
      );
      room -= taken.filter(Boolean).length;
    }
  }

  async function tick(): Promise<void> {
    await Promise.all([heartbeat(), renewAll()]);
    if (stopped) return;
    const share = fairShare();
    if (workers.size > share) {
      // Another instance joined. One partition per tick, and only once the last one is handed
      // over, so shares settle without flapping; the highest-numbered goes first, so every
      // instance agrees on which move.
      if (handingOver.size > 0) return;
      const partition = Math.max(...workers.keys());
      handOver(partition, workers.get(partition)!, share);
      return;
    }
    if (workers.size < share) await acquireUpTo(share - workers.size);
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(
      () => {
        ticking = tick()
          .catch((err) => log.error({ err }, "lease tick failed"))
          .finally(schedule);
      },
      Math.max(50, Math.floor(config.LEASE_TTL_MS / 3)),
    );
  }

  async function watchNats(iterator: QueuedIterator<Status>): Promise<void> {
    for await (const status of iterator) {
      // Deliveries may have been lost while disconnected: re-read each partition in order.
      if (status.type === "reconnect") for (const worker of workers.values()) worker.requestResync("NATS reconnected");
    }
  }

  return {
    async start() {
      ctx = {
        nc,
        js: jetstream(nc),
        publisher: new JetStreamPublisher(nc, EVENTS_PUBLISH_TIMEOUT_MS),
        jsm: await jetstreamManager(nc),
        redis,
        leases,
        log,
        metrics,
        config,
      };
      statusWatch = nc.status() as QueuedIterator<Status>;
      void watchNats(statusWatch).catch((err) => log.warn({ err }, "NATS status watch ended"));
      resumeSub = nc.subscribe(RESUME_SUBJECT, {
        callback: (err, msg) => {
          if (err) return;
          try {
            const notice = ResumeNotice.safeParse(msg.json());
            if (notice.success) drainIfOwned(notice.data.stream_id);
          } catch {
            // Not JSON: nothing to resume; the periodic scan covers real resolutions.
          }
        },
      });
      resumeScan = setInterval(() => void scanResumable(), RESUME_SCAN_MS);
      ticking = tick().catch((err) => log.error({ err }, "lease tick failed"));
      await ticking;
      schedule();
    },

    async stop() {
      stopped = true;
      clearTimeout(timer);
      clearInterval(resumeScan);
      resumeSub?.unsubscribe();
      await ticking;
      // Out of the live set first: the others' shares grow before these leases come free.
      await leases.deregister().catch((err) => log.warn({ err }, "could not leave the live instances"));
      statusWatch?.stop();
      const owned = [...workers];
      workers.clear();
      setOwnedGauge();
      await Promise.all(owned.map(([, worker]) => worker.stop()));
      await Promise.all([...retiring.values()]);
      // Every worker is done (its batches published or given up): nothing waits for a PubAck.
      ctx?.publisher.close();
      await Promise.all(
        owned.map(([partition]) =>
          leases.release(partition).catch((err) => log.warn({ err, partition }, "could not release a lease")),
        ),
      );
      log.info({ partitions: owned.map(([p]) => p) }, "sequencer stopped");
    },

    ownedPartitions() {
      return [...workers.keys()].sort((a, b) => a - b);
    },
  };
}
