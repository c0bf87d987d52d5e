import { INGEST_STREAM, ingestPartitionFilter, sequencerConsumerName } from "@heliograph/contracts";
import { isConsumerNotFound, type Logger } from "@heliograph/platform";
import {
  AckPolicy,
  type ConsumerMessages,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";

export const ACK_WAIT_MS = 30_000;
const MAX_ACK_PENDING = 20_000;
const CONSUME_MAX_MESSAGES = 1_000;
/**
 * Pull requests live long and the server's heartbeats come often. A pull request can vanish
 * without a word: nats-server 2.9 drops one whose expiry it meets while delivering (a message
 * arriving between the expiry and the sweep that would answer 408), and a JetStream leader change
 * loses them too. The consumer then goes silent until the client misses two heartbeats, and its
 * partition's events wait that long: 4-6 s with 4 s pulls and their default 2 s heartbeats, once
 * a minute or so at 200 publishes/s. With 500 ms heartbeats a lost pull shows within about a
 * second; with 30 s pulls, expiries (and their race) come 7.5 times less often.
 */
const CONSUME_EXPIRES_MS = 30_000;
const CONSUME_IDLE_HEARTBEAT_MS = 500;
/**
 * How often an idle session asks its consumer whether it holds messages nothing delivered: two
 * such answers in a row, with no delivery between them, replace the consumer (watchProgress).
 */
const STALL_CHECK_MS = 2_500;
const nanos = (ms: number) => ms * 1_000_000;

export interface SessionDeps {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  log: Logger;
  /** The worker's batch size: the intake waits once four batches (or one full pull) are queued. */
  batchMax: number;
}

export interface SessionEvents {
  /** A message joined the queue. */
  received(): void;
  /** Delivery order may be broken (a gap, a redelivery, consumer trouble): recreate the consumer. */
  resync(reason: string): void;
  /** The worker is numbering or publishing taken messages (their acks are still to come). */
  busy(): boolean;
}

/**
 * One incarnation of a partition's durable pull consumer on INGEST. Opening deletes and recreates
 * the consumer: INGEST is a work queue, so the new one starts at the oldest unacked message, in
 * order. Delivery sequences restart at 1 with each incarnation, so a gap or a redelivery shows
 * that order may be broken, and the session asks to be replaced.
 */
export class ConsumerSession {
  private queue: JsMsg[] = [];
  private nextDelivery = 1;
  private closing = false;
  private intake: Promise<void> = Promise.resolve();
  private wakeIntake: (() => void) | undefined;
  private intakePaused = false;
  private intakeResumedAt = 0;

  private constructor(
    private readonly consumerName: string,
    private readonly messages: ConsumerMessages,
    private readonly deps: SessionDeps,
    private readonly events: SessionEvents,
  ) {}

  static async open(partition: number, deps: SessionDeps, events: SessionEvents): Promise<ConsumerSession> {
    const { jsm, js } = deps;
    const consumerName = sequencerConsumerName(partition);
    try {
      await jsm.consumers.delete(INGEST_STREAM, consumerName);
    } catch (err) {
      if (!isConsumerNotFound(err)) throw err;
    }
    const created = await jsm.consumers.add(INGEST_STREAM, {
      durable_name: consumerName,
      filter_subject: ingestPartitionFilter(partition),
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(ACK_WAIT_MS),
      max_deliver: -1,
      max_ack_pending: MAX_ACK_PENDING,
      deliver_policy: DeliverPolicy.All,
    });
    // Adding a durable that exists with the same config returns the existing one. That happens
    // when a delete is lost in a JetStream leader change: the old incarnation, with messages the
    // last session received and dropped still waiting for their acks, would then hold them for the
    // whole ack wait (30 s of silence on an idle partition). Only a fresh consumer will do.
    if (created.delivered.consumer_seq > 0 || created.num_ack_pending > 0) {
      throw new Error(
        `consumer ${consumerName} was not recreated (it has delivered ${created.delivered.consumer_seq}); retrying`,
      );
    }
    const consumer = await js.consumers.get(INGEST_STREAM, consumerName);
    const messages = await consumer.consume({
      max_messages: CONSUME_MAX_MESSAGES,
      expires: CONSUME_EXPIRES_MS,
      idle_heartbeat: CONSUME_IDLE_HEARTBEAT_MS,
    });
    const session = new ConsumerSession(consumerName, messages, deps, events);
    session.intake = session.receive();
    void session.watch();
    void session.watchProgress();
    deps.log.debug("partition consumer ready");
    return session;
  }

  get size(): number {
    return this.queue.length;
  }

  /** Up to `max` messages from the head of the queue, in delivery order. */
  take(max: number): JsMsg[] {
    const batch = this.queue.splice(0, max);
    this.signalIntake();
    return batch;
  }

  /** Keeps the queued messages from reaching their ack wait. */
  working(): void {
    for (const msg of this.queue) msg.working();
  }

  /** Stops receiving without waiting for it (idempotent). */
  interrupt(): void {
    if (this.closing) return;
    this.closing = true;
    void this.messages.close().catch(() => {});
    this.signalIntake();
  }

  /**
   * Stops receiving and waits until the intake is done. What was received and not taken is dropped:
   * the next incarnation delivers it again, in order.
   */
  async close(): Promise<void> {
    this.closing = true;
    this.signalIntake();
    await this.messages.close().catch(() => {});
    await this.intake;
    this.queue = [];
    // Acks of the last batch should reach the server before the consumer is deleted; if they do
    // not, those messages come back and the Lua step skips them.
    await this.deps.nc.flush().catch(() => {});
  }

  private signalIntake(): void {
    const wake = this.wakeIntake;
    this.wakeIntake = undefined;
    wake?.();
  }

  private async receive(): Promise<void> {
    const highWater = Math.max(this.deps.batchMax * 4, CONSUME_MAX_MESSAGES);
    try {
      for await (const msg of this.messages) {
        if (this.closing) break;
        const info = msg.info;
        if (info.deliverySequence !== this.nextDelivery) {
          this.events.resync(`delivery sequence ${info.deliverySequence}, expected ${this.nextDelivery}`);
          break;
        }
        this.nextDelivery++;
        if (info.deliveryCount > 1 || msg.redelivered) {
          this.events.resync(`unexpected redelivery of stream sequence ${msg.seq}`);
          break;
        }
        this.queue.push(msg);
        this.events.received();
        if (this.queue.length >= highWater && !this.closing) {
          this.intakePaused = true;
          while (this.queue.length >= highWater && !this.closing) {
            await new Promise<void>((resolve) => {
              this.wakeIntake = resolve;
            });
          }
          this.intakePaused = false;
          this.intakeResumedAt = Date.now();
        }
      }
    } catch (err) {
      if (!this.closing) this.deps.log.warn({ err }, "partition consumer failed");
    }
    if (!this.closing) this.events.resync("partition consumer ended");
  }

  /** Paused for the worker, or resumed too recently for the owed pulls to have been answered. */
  private backpressured(): boolean {
    return this.intakePaused || Date.now() - this.intakeResumedAt < 2 * CONSUME_IDLE_HEARTBEAT_MS;
  }

  private async watch(): Promise<void> {
    try {
      for await (const status of this.messages.status()) {
        if (this.closing) break;
        // While the intake waits for the worker, the pulls the client owes the server wait behind
        // the messages it has not iterated, so the server is silent by our own doing: no lost pull.
        if (status.type === "heartbeats_missed" && this.backpressured()) continue;
        switch (status.type) {
          case "heartbeats_missed":
          case "consumer_deleted":
          case "consumer_not_found":
          case "stream_not_found":
            this.events.resync(`consumer status ${status.type}`);
            return;
          default:
            break;
        }
      }
    } catch (err) {
      if (!this.closing) this.deps.log.debug({ err }, "consumer status iterator ended");
    }
  }

  /**
   * The client sees a lost delivery only through heartbeats, gaps and redeliveries. A consumer can
   * still hold messages that none of those reveal: a pull request not carried over to a new
   * JetStream leader, or acks lost with the old one (they come back only after the ack wait).
   * So an idle session whose consumer says it holds messages, twice in a row with nothing
   * delivered between, asks to be replaced; the Lua step skips whatever was applied already.
   */
  private async watchProgress(): Promise<void> {
    let suspect = false;
    while (!this.closing) {
      const delivered = this.nextDelivery;
      await new Promise<void>((resolve) => setTimeout(resolve, STALL_CHECK_MS).unref());
      const idle = () =>
        !this.closing && this.nextDelivery === delivered && this.queue.length === 0 && !this.events.busy();
      if (!idle()) {
        suspect = false;
        continue;
      }
      let held: number;
      try {
        const info = await this.deps.jsm.consumers.info(INGEST_STREAM, this.consumerName);
        held = info.num_pending + info.num_ack_pending;
      } catch {
        // Unreachable or gone: the status watch and the reconnect resync cover that.
        continue;
      }
      if (!idle() || held === 0) {
        suspect = false;
        continue;
      }
      if (suspect) {
        this.events.resync(`consumer holds ${held} messages, none delivered for ${2 * STALL_CHECK_MS} ms`);
        return;
      }
      suspect = true;
    }
  }
}
