import {
  EVENT_NUMBER_END,
  EVENT_TEXT_OPEN,
  EVENTS_STREAM,
  eventNumberOfText,
  eventsArrayText,
  type StreamId,
  streamIdOfSubject,
} from "@heliograph/contracts";
import { Counter, Gauge, type Logger, type NatsConnection, type Registry } from "@heliograph/platform";
import { type ConsumerMessages, DeliverPolicy, type JsMsg, jetstream, jetstreamManager } from "@nats-io/jetstream";

/**
 * Why a waiter is woken: an event it can answer with directly (`text` is the event's JSON, `body`
 * the JSON array text of it, both built once and shared by every waiter of that event), a reason
 * to read Redis again, or the process is shutting down.
 */
export type WakeReason =
  | { kind: "event"; eventNumber: number; text: string; body: string }
  | { kind: "recheck" }
  | { kind: "release" }
  | { kind: "reauthorize" };

/** A held long poll: the last event its client processed, and how to wake it. */
export interface Waiter {
  readonly streamId: StreamId;
  readonly after: number;
  /** Whose poll it is: a subscriber holds at most its share of the slots (none: not counted). */
  readonly subscriberId?: string;
  wake(reason: WakeReason): void;
}

export type RegisterResult = "registered" | "full" | "subscriber-full" | "draining";

export interface HubStats {
  waiters: number;
  streams: number;
  /** JetStream consumers this hub holds: 1 while consuming, never one per request. */
  consumers: number;
  consumerName: string | undefined;
  messagesReceived: number;
  /** Times the consumer had to be rebuilt (ordered consumer reset or restart). */
  consumerRecreations: number;
}

export interface HubOptions {
  nc: NatsConnection;
  log: Logger;
  metrics: Registry;
  maxWaiters: number;
  /** Waiters one subscriber may hold at once; unset, a tenth of maxWaiters (at least 1). */
  maxWaitersPerSubscriber?: number;
  /**
   * Told the number of every event the consumer receives, waiters or not: Redis held it before
   * EVENTS did, so a Redis head below it means Redis is behind (see verified-streams.ts).
   */
  onRecorded?: (streamId: StreamId, eventNumber: number) => void;
}

const EVENT_TEXT_OPEN_BYTES = new TextEncoder().encode(EVENT_TEXT_OPEN);
const COMMA = EVENT_NUMBER_END.charCodeAt(0);
const DIGIT_0 = 48;
const DIGIT_9 = 57;

/**
 * The event number of an event's JSON bytes when they start as the sequencer writes them
 * (`{"event_number":N,`), without decoding the rest; undefined otherwise.
 */
export function eventNumberOfBytes(data: Uint8Array): number | undefined {
  if (data.length <= EVENT_TEXT_OPEN_BYTES.length) return undefined;
  for (let i = 0; i < EVENT_TEXT_OPEN_BYTES.length; i++) if (data[i] !== EVENT_TEXT_OPEN_BYTES[i]) return undefined;
  let n = 0;
  let digits = 0;
  for (let i = EVENT_TEXT_OPEN_BYTES.length; i < data.length && digits <= 15; i++) {
    const byte = data[i] as number;
    if (byte === COMMA) return digits > 0 ? n : undefined;
    if (byte < DIGIT_0 || byte > DIGIT_9) return undefined;
    n = n * 10 + (byte - DIGIT_0);
    digits++;
  }
  return undefined;
}

/** MAX_WAITERS_PER_SUBSCRIBER's default: this fraction (1/n) of MAX_WAITERS. */
export const SUBSCRIBER_SHARE_DIVISOR = 10;

const RECHECK: WakeReason = { kind: "recheck" };
const RELEASE: WakeReason = { kind: "release" };
const REAUTHORIZE: WakeReason = { kind: "reauthorize" };
const RESTART_DELAY_MS = 500;
const PULL_BATCH = 1_000;
const PULL_EXPIRES_MS = 10_000;
const IDLE_HEARTBEAT_MS = 1_000;

/**
 * The in-process waiter hub (docs/architecture.md, "Stream gateway"): one ordered JetStream
 * consumer over the whole EVENTS stream per process, demultiplexed by subject to the waiters of
 * each stream, so ten thousand held polls cost one consumer and each event is decoded once for all
 * of them.
 */
export class StreamHub {
  private readonly waiters = new Map<StreamId, Set<Waiter>>();
  private count = 0;
  /** Waiters held per subscriber; an entry is removed at 0, so its size is bounded by `count`. */
  private readonly perSubscriber = new Map<string, number>();
  private readonly maxPerSubscriber: number;
  private draining = false;
  private stopped = false;
  private messages: ConsumerMessages | undefined;
  private consumerName: string | undefined;
  private received = 0;
  private upToDateFlag = false;
  private recreations = 0;
  private supervisor: Promise<void> | undefined;
  private connectionWatch: AsyncIterator<unknown> | undefined;
  private readonly log: Logger;
  private readonly waitersGauge: Gauge;
  private readonly wakeups: Counter<"reason">;

  constructor(private readonly options: HubOptions) {
    this.log = options.log;
    this.maxPerSubscriber =
      options.maxWaitersPerSubscriber ?? Math.max(1, Math.floor(options.maxWaiters / SUBSCRIBER_SHARE_DIVISOR));
    this.waitersGauge = new Gauge({
      name: "heliograph_stream_waiters",
      help: "Long polls held, waiting for an event",
      registers: [options.metrics],
    });
    this.wakeups = new Counter({
      name: "heliograph_stream_wakeups_total",
      help: "Waiters woken, by reason: event (answered from the message), recheck (read Redis), release (shutdown)",
      labelNames: ["reason"] as const,
      registers: [options.metrics],
    });
  }

  /** Creates the consumer; resolves once it exists on the server, so later events reach the hub. */
  async start(): Promise<void> {
    const messages = await this.openConsumer();
    this.supervisor = this.supervise(messages);
    void this.watchConnection();
  }

  /**
   * Registers a waiter. `full` means the process holds MAX_WAITERS already (answer 503);
   * `subscriber-full` means the waiter's subscriber holds its share already (answer 429), so one
   * token cannot starve the others; `draining` means the process is shutting down (answer at once
   * so the client re-polls elsewhere).
   */
  register(waiter: Waiter): RegisterResult {
    if (this.draining) return "draining";
    let set = this.waiters.get(waiter.streamId);
    if (set?.has(waiter)) return "registered";
    if (this.count >= this.options.maxWaiters) return "full";
    const owner = waiter.subscriberId;
    const held = owner === undefined ? 0 : (this.perSubscriber.get(owner) ?? 0);
    if (owner !== undefined && held >= this.maxPerSubscriber) return "subscriber-full";
    if (!set) {
      set = new Set();
      this.waiters.set(waiter.streamId, set);
    }
    set.add(waiter);
    if (owner !== undefined) this.perSubscriber.set(owner, held + 1);
    this.count++;
    this.waitersGauge.set(this.count);
    return "registered";
  }

  /** Idempotent; a waiter that was woken is already unregistered. */
  unregister(waiter: Waiter): void {
    const set = this.waiters.get(waiter.streamId);
    if (!set?.delete(waiter)) return;
    if (set.size === 0) this.waiters.delete(waiter.streamId);
    this.forget(waiter);
  }

  /** Waiters one subscriber holds now (tests and the share check). */
  heldBy(subscriberId: string): number {
    return this.perSubscriber.get(subscriberId) ?? 0;
  }

  /**
   * The consumer's last message was the last of EVENTS for it when the server sent it (none
   * pending), and no consumer trouble since: an event stored from now on is the hub's next
   * message. False until the first such message, and after any trouble (recheckAll).
   */
  get upToDate(): boolean {
    return this.upToDateFlag;
  }

  /** Wakes every waiter to read Redis again: after consumer trouble, something may have been missed. */
  recheckAll(): void {
    this.upToDateFlag = false;
    for (const set of [...this.waiters.values()]) this.wakeSet(set, RECHECK);
  }

  /**
   * The subscriber's record changed (revoked, deleted, a new token, other entitlements), or with no
   * id, any may have: its held polls check their token and entitlement again before they go on.
   */
  reauthorize(subscriberId?: string): void {
    if (subscriberId !== undefined && !this.perSubscriber.has(subscriberId)) return;
    for (const set of [...this.waiters.values()])
      for (const waiter of set)
        if (subscriberId === undefined || waiter.subscriberId === subscriberId) this.take(set, waiter, REAUTHORIZE);
  }

  /** Shutdown: answer every held poll now and refuse new waits. */
  drain(): void {
    this.draining = true;
    for (const set of [...this.waiters.values()]) this.wakeSet(set, RELEASE);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.drain();
    void this.connectionWatch?.return?.();
    const messages = this.messages;
    this.messages = undefined;
    if (messages) {
      await messages.close().catch(() => undefined);
      await this.supervisor;
    }
  }

  stats(): HubStats {
    return {
      waiters: this.count,
      streams: this.waiters.size,
      consumers: this.messages && !this.stopped ? 1 : 0,
      consumerName: this.consumerName,
      messagesReceived: this.received,
      consumerRecreations: this.recreations,
    };
  }

  /**
   * Public for tests of the demultiplexing; the consumer calls it for every EVENTS message, with the
   * event number when it could read it from the message's first bytes.
   */
  dispatch(subject: string, text: () => string, knownNumber?: number): void {
    this.received++;
    const streamId = streamIdOfSubject(subject);
    if (knownNumber !== undefined) this.options.onRecorded?.(streamId, knownNumber);
    const set = this.waiters.get(streamId);
    if (!set || set.size === 0) return;
    const json = text();
    const eventNumber = knownNumber ?? eventNumberOfText(json);
    if (knownNumber === undefined && eventNumber !== undefined) this.options.onRecorded?.(streamId, eventNumber);
    if (eventNumber === undefined) {
      this.log.warn({ subject }, "EVENTS message without an event number; waiters re-read Redis");
      this.wakeSet(set, RECHECK);
      return;
    }
    let direct: WakeReason | undefined;
    for (const waiter of set) {
      if (waiter.after === eventNumber - 1) {
        direct ??= { kind: "event", eventNumber, text: json, body: eventsArrayText([json]) };
        this.take(set, waiter, direct);
      } else if (waiter.after < eventNumber - 1) {
        // It missed events before this one: only Redis has them all, in order.
        this.take(set, waiter, RECHECK);
      }
      // after >= eventNumber: a redelivery of something it has; it keeps waiting.
    }
  }

  private wakeSet(set: Set<Waiter>, reason: WakeReason): void {
    for (const waiter of set) this.take(set, waiter, reason);
  }

  private take(set: Set<Waiter>, waiter: Waiter, reason: WakeReason): void {
    // Deleting the current element while iterating a Set is safe; wake() resolves asynchronously.
    set.delete(waiter);
    if (set.size === 0) this.waiters.delete(waiter.streamId);
    this.forget(waiter);
    this.wakeups.inc({ reason: reason.kind });
    try {
      waiter.wake(reason);
    } catch (err) {
      this.log.error({ err }, "waiter failed to wake");
    }
  }

  /** Counts a waiter that left its set out of the totals. */
  private forget(waiter: Waiter): void {
    this.count--;
    this.waitersGauge.set(this.count);
    const owner = waiter.subscriberId;
    if (owner === undefined) return;
    const held = (this.perSubscriber.get(owner) ?? 1) - 1;
    if (held > 0) this.perSubscriber.set(owner, held);
    else this.perSubscriber.delete(owner);
  }

  private async openConsumer(): Promise<ConsumerMessages> {
    // Start after the stream's current last message rather than DeliverPolicy.New: an ordered
    // consumer that is reset before it has received anything restarts from its start sequence,
    // and with New that would replay the whole EVENTS stream.
    const jsm = await jetstreamManager(this.options.nc);
    const info = await jsm.streams.info(EVENTS_STREAM);
    const js = jetstream(this.options.nc);
    const consumer = await js.consumers.get(EVENTS_STREAM, {
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: info.state.last_seq + 1,
    });
    const messages = await consumer.consume({
      max_messages: PULL_BATCH,
      expires: PULL_EXPIRES_MS,
      // Missed heartbeats are how a deleted or lost consumer is noticed: two of them, so ~2 s.
      idle_heartbeat: IDLE_HEARTBEAT_MS,
      callback: (m: JsMsg) => {
        this.upToDateFlag = m.info.pending === 0;
        try {
          this.dispatch(m.subject, () => m.string(), eventNumberOfBytes(m.data));
        } catch (err) {
          this.log.error({ err, subject: m.subject }, "failed to dispatch an event");
        }
      },
    });
    this.messages = messages;
    this.consumerName = (await consumer.info(true)).name;
    void this.watchConsumer(messages);
    this.log.info({ consumer: this.consumerName, startSeq: info.state.last_seq + 1 }, "events consumer started");
    return messages;
  }

  /** Recreates the consumer if it ends while the hub is running. */
  private async supervise(first: ConsumerMessages): Promise<void> {
    let messages: ConsumerMessages | undefined = first;
    while (messages) {
      const ended = await messages.closed().catch((err: unknown) => err);
      if (this.stopped) return;
      this.log.error({ err: ended }, "events consumer stopped; recreating it");
      this.messages = undefined;
      messages = undefined;
      while (!this.stopped && !messages) {
        // Whatever arrived while there was no consumer is in Redis.
        this.recheckAll();
        await new Promise((r) => setTimeout(r, RESTART_DELAY_MS));
        if (this.stopped) return;
        try {
          messages = await this.openConsumer();
          this.recreations++;
          this.recheckAll();
        } catch (err) {
          this.log.warn({ err }, "could not recreate the events consumer");
        }
      }
    }
  }

  private async watchConsumer(messages: ConsumerMessages): Promise<void> {
    for await (const status of messages.status()) {
      if (status.type === "ordered_consumer_recreated") {
        this.recreations++;
        this.consumerName = status.name;
        this.log.info({ consumer: status.name }, "events consumer recreated; waiters re-read Redis");
        this.recheckAll();
      } else if (status.type === "heartbeats_missed") {
        // Events may not be arriving: reads go to Redis until a message says the hub is current.
        this.upToDateFlag = false;
        this.log.warn({ count: status.count }, "events consumer missed heartbeats");
      }
    }
  }

  private async watchConnection(): Promise<void> {
    const iterator = this.options.nc.status()[Symbol.asyncIterator]();
    this.connectionWatch = iterator;
    for (;;) {
      const next = await iterator.next();
      if (next.done || this.stopped) return;
      if (next.value.type === "reconnect") this.recheckAll();
    }
  }
}
