// Test support only: a real nats-server and redis-server, the app listening on a free port, and
// events numbered by the sequencer's own step (runSequenceStep, the Lua script), then published
// to EVENTS as the sequencer does: Redis first, EVENTS after, with the ingest-id header.
import {
  EVENT_INGEST_ID_HEADER,
  eventBodyText,
  eventMsgId,
  eventsSubject,
  eventText,
  type IdeaEvent,
  type IdeaEventType,
  type IdeaPublishRequest,
  type IngestMessage,
  type StreamId,
} from "@heliograph/contracts";
import {
  connectNats,
  connectRedis,
  createLogger,
  ensureStreams,
  type NatsConnection,
  type Redis,
} from "@heliograph/platform";
import {
  defineSequenceStep,
  runSequenceStep,
  type StepOutcome,
  stepInputOf,
} from "@heliograph/sequencer/sequence-step";
import { ControlPlane, openControlBucket, streamKeys } from "@heliograph/store";
import { type NatsServerHandle, type RedisServerHandle, startServers } from "@heliograph/testkit";
import { type JetStreamClient, jetstream } from "@nats-io/jetstream";
import { headers } from "@nats-io/nats-core";
import { buildApp, type StreamGatewayApp, type StreamGatewayDeps } from "../src/app.js";

/** The lease epoch the fixture numbers under: one owner, never taken over. */
const EPOCH = 1;
const APPLIED_TTL_SECONDS = 86_400;
/** Messages per step call when writing history in bulk. */
const STEP_BATCH = 200;
/** Bytes of events one step numbers at most (about). */
const STEP_BYTES = 1024 * 1024;

/**
 * Numbers events with the sequencer's step (the same Lua script and inputs as the sequencer) and
 * publishes them to EVENTS as the sequencer does, after Redis holds them.
 */
export class SequencerStandIn {
  private ingestCount = 0;
  /** `<stream_id>:<n>` → the ingest id event n was numbered from, for the EVENTS header. */
  private readonly ingestIds = new Map<string, string>();

  constructor(
    private readonly redis: Redis,
    private readonly js: JetStreamClient,
  ) {}

  private message(
    streamId: StreamId,
    eventType: IngestMessage["event_type"],
    data: IngestMessage["data"],
  ): IngestMessage {
    return {
      ingest_id: `ing-${streamId}-${++this.ingestCount}`,
      stream_id: streamId,
      publisher_id: "pub-test",
      event_type: eventType,
      data,
      received_at: new Date().toISOString(),
    };
  }

  /** The generic event `n` of a stream: an IdeaOpened of idea `idea-<n>`, with `extra` in its data. */
  private generic(streamId: StreamId, n: number, extra: Record<string, unknown>): IngestMessage {
    return this.message(streamId, "IdeaOpened", {
      id: `idea-${n}`,
      timestamp: "2018-06-04T14:34:43.393Z",
      comment: `event ${n}`,
      ...extra,
    });
  }

  /** The text the step writes for the generic event `n` (for tests that write Redis themselves). */
  eventText(streamId: StreamId, n: number, extra: Record<string, unknown> = {}): string {
    return eventText(n, eventBodyText(this.generic(streamId, n, extra), new Date().toISOString()));
  }

  private async nextNumber(streamId: StreamId): Promise<number> {
    const head = await this.redis.get(streamKeys(streamId).head);
    return head === null ? 0 : Number(head) + 1;
  }

  /** Runs the step over `messages`; every one must be numbered, in order, from `first`. */
  private async number(streamId: StreamId, messages: IngestMessage[], first: number): Promise<string[]> {
    const publishedAt = new Date().toISOString();
    const inputs = messages.map((m) => stepInputOf(m, JSON.stringify(m), publishedAt));
    const { outcomes } = await runSequenceStep(this.redis, streamId, EPOCH, APPLIED_TTL_SECONDS, inputs);
    return outcomes.map((outcome: StepOutcome, i) => {
      if (outcome.kind !== "numbered" || outcome.eventNumber !== first + i) {
        throw new Error(`the step did not number ${streamId} event ${first + i}: ${JSON.stringify(outcome)}`);
      }
      this.ingestIds.set(eventMsgId(streamId, first + i), messages[i]?.ingest_id as string);
      return outcome.text;
    });
  }

  /**
   * Publishes an event already numbered (by appendHistory) to EVENTS, as the sequencer does after
   * Redis: with its `Nats-Msg-Id` and the ingest id it was numbered from.
   */
  async publish(streamId: StreamId, n: number, text: string): Promise<void> {
    const h = headers();
    h.set(EVENT_INGEST_ID_HEADER, this.ingestIds.get(eventMsgId(streamId, n)) ?? `ing-${streamId}-record-${n}`);
    await this.js.publish(eventsSubject(streamId), text, { msgID: eventMsgId(streamId, n), headers: h });
  }

  /**
   * Appends `count` events to Redis and publishes each to EVENTS in order, as the sequencer does:
   * history that both hold. Returns their texts.
   */
  async appendRecorded(streamId: StreamId, count: number, extra: Record<string, unknown> = {}): Promise<string[]> {
    const first = await this.nextNumber(streamId);
    const texts = await this.appendHistory(streamId, count, extra);
    for (const [i, text] of texts.entries()) await this.publish(streamId, first + i, text);
    return texts;
  }

  /**
   * Publishes the generic event `n` to EVENTS only, leaving Redis as it is: what the sequencer's
   * next event looks like to a reader of EVENTS while this gateway's Redis is still behind.
   */
  async recordOnly(streamId: StreamId, n: number, extra: Record<string, unknown> = {}): Promise<string> {
    const text = this.eventText(streamId, n, extra);
    await this.publish(streamId, n, text);
    return text;
  }

  /** Appends one event and publishes it; returns its text. */
  async append(streamId: StreamId, extra: Record<string, unknown> = {}): Promise<{ n: number; text: string }> {
    const n = await this.nextNumber(streamId);
    const [text] = await this.number(streamId, [this.generic(streamId, n, extra)], n);
    await this.publish(streamId, n, text as string);
    return { n, text: text as string };
  }

  /** Appends `count` events to Redis only (bulk history nobody is waiting on); returns their texts. */
  async appendHistory(streamId: StreamId, count: number, extra: Record<string, unknown> = {}): Promise<string[]> {
    const texts: string[] = [];
    // Large events go a few per step: one step of megabytes can outlast the client's command timeout.
    const perStep = Math.max(1, Math.min(STEP_BATCH, Math.floor(STEP_BYTES / (JSON.stringify(extra).length + 512))));
    for (let done = 0; done < count; ) {
      const n = await this.nextNumber(streamId);
      const size = Math.min(perStep, count - done);
      const batch = Array.from({ length: size }, (_, i) => this.generic(streamId, n + i, extra));
      texts.push(...(await this.number(streamId, batch, n)));
      done += size;
    }
    return texts;
  }

  /** Appends one idea event (the step keeps the idea's state, as for the sequencer); returns the event. */
  async appendIdea(streamId: StreamId, eventType: IdeaEventType, data: IdeaPublishRequest): Promise<IdeaEvent> {
    const n = await this.nextNumber(streamId);
    const [text] = await this.number(streamId, [this.message(streamId, eventType, data)], n);
    await this.publish(streamId, n, text as string);
    return JSON.parse(text as string) as IdeaEvent;
  }

  /** Halts the stream the way a real one halts: the step is given an update of an idea never opened. */
  async halt(streamId: StreamId): Promise<void> {
    const message = this.message(streamId, "IdeaUpdated", {
      id: `never-opened-${this.ingestCount}`,
      timestamp: "2018-06-04T14:34:43.393Z",
    });
    const { outcomes } = await runSequenceStep(this.redis, streamId, EPOCH, APPLIED_TTL_SECONDS, [
      stepInputOf(message, JSON.stringify(message), new Date().toISOString()),
    ]);
    if (outcomes[0]?.kind !== "halted")
      throw new Error(`the step did not halt ${streamId}: ${JSON.stringify(outcomes)}`);
  }
}

export interface GatewayFixture {
  nats: NatsServerHandle;
  redisServer: RedisServerHandle;
  nc: NatsConnection;
  redis: Redis;
  app: StreamGatewayApp;
  url: string;
  controlPlane: ControlPlane;
  sequencer: SequencerStandIn;
  /** A subscriber token entitled to `streams`. */
  tokenFor(streams: StreamId[]): Promise<string>;
  /** Another app on the same servers (its own hub), e.g. with a small MAX_WAITERS; `config` adds settings. */
  extraApp(
    maxWaiters: number,
    config?: Partial<StreamGatewayDeps["config"]>,
  ): Promise<{ app: StreamGatewayApp; url: string }>;
  close(): Promise<void>;
}

export async function startGatewayFixture(options: { maxWaiters?: number } = {}): Promise<GatewayFixture> {
  const { nats, redis: redisServer } = await startServers();
  const log = createLogger({ name: "stream-gateway-test", level: process.env.HG_TEST_LOG ?? "silent" });
  const nc = await connectNats(nats, log, "stream-gateway-test");
  await ensureStreams(nc, { replicas: 1 });
  const redis = await connectRedis(redisServer.url, log, "stream-gateway-test");
  // Before the connection is shared: a script defined mid-tick breaks an auto-pipeline.
  defineSequenceStep(redis);
  const apps: StreamGatewayApp[] = [];
  const start = async (maxWaiters: number, extra: Partial<StreamGatewayDeps["config"]> = {}) => {
    const app = await buildApp({
      log,
      nc,
      redis,
      // No control-plane cache, so an entitlement change is seen at once.
      config: { MAX_WAITERS: maxWaiters, CONTROL_PLANE_CACHE_MS: 0, ...extra },
    });
    apps.push(app);
    const url = await app.listen({ host: "127.0.0.1", port: 0 });
    return { app, url };
  };
  const { app, url } = await start(options.maxWaiters ?? 50_000);
  const controlPlane = new ControlPlane(await openControlBucket(nc, { replicas: 1 }));
  return {
    nats,
    redisServer,
    nc,
    redis,
    app,
    url,
    controlPlane,
    sequencer: new SequencerStandIn(redis, jetstream(nc)),
    async tokenFor(streams) {
      return (await controlPlane.createSubscriber({ name: "test subscriber", streams })).token;
    },
    extraApp: start,
    async close() {
      for (const a of apps) await a.close();
      await nc.drain();
      await redis.quit();
      await Promise.all([nats.stop(), redisServer.stop()]);
    },
  };
}
