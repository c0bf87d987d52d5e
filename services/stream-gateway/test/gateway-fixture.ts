// Test support only: a real nats-server and redis-server, the app listening on a free port, and a
// stand-in for the sequencer that writes exactly what the real one writes, in the same order.
import {
  eventBodyText,
  eventMsgId,
  eventsSubject,
  eventText,
  type IdeaEvent,
  type IdeaEventType,
  type IdeaProjection,
  type IdeaPublishRequest,
  reduceIdea,
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
  ControlPlane,
  ideaStateText,
  LOG_EVENT_FIELD,
  LOG_INGEST_FIELD,
  logEntryId,
  readIdeaProjection,
  streamKeys,
} from "@heliograph/store";
import { type NatsServerHandle, type RedisServerHandle, startNatsServer, startRedisServer } from "@heliograph/testkit";
import { type JetStreamClient, jetstream } from "@nats-io/jetstream";
import { buildApp, type StreamGatewayApp } from "../src/app.js";

/** Writes events as the sequencer does: Redis log entry, then head, and only then EVENTS. */
export class SequencerStandIn {
  private readonly next = new Map<StreamId, number>();

  constructor(
    private readonly redis: Redis,
    private readonly js: JetStreamClient,
  ) {}

  eventText(streamId: StreamId, n: number, extra: Record<string, unknown> = {}): string {
    const body = eventBodyText(
      {
        ingest_id: `ing-${streamId}-${n}`,
        stream_id: streamId,
        publisher_id: "pub-test",
        event_type: "IdeaOpened",
        data: { id: `idea-${n}`, timestamp: "2018-06-04T14:34:43.393Z", comment: `event ${n}`, ...extra },
        received_at: new Date().toISOString(),
      },
      new Date().toISOString(),
    );
    return eventText(n, body);
  }

  private async nextNumber(streamId: StreamId): Promise<number> {
    let n = this.next.get(streamId);
    if (n === undefined) {
      const head = await this.redis.get(streamKeys(streamId).head);
      n = head === null ? 0 : Number(head) + 1;
    }
    this.next.set(streamId, n + 1);
    return n;
  }

  /** Appends one event and publishes it; returns its text. */
  async append(streamId: StreamId, extra: Record<string, unknown> = {}): Promise<{ n: number; text: string }> {
    const n = await this.nextNumber(streamId);
    const text = this.eventText(streamId, n, extra);
    const keys = streamKeys(streamId);
    await this.redis.xadd(keys.log, logEntryId(n), LOG_EVENT_FIELD, text, LOG_INGEST_FIELD, `ing-${n}`);
    await this.redis.set(keys.head, String(n));
    await this.js.publish(eventsSubject(streamId), text, { msgID: eventMsgId(streamId, n) });
    return { n, text };
  }

  /** Appends `count` events to Redis only (bulk history nobody is waiting on); returns their texts. */
  async appendHistory(streamId: StreamId, count: number, extra: Record<string, unknown> = {}): Promise<string[]> {
    const keys = streamKeys(streamId);
    const texts: string[] = [];
    const pipeline = this.redis.pipeline();
    let last = -1;
    for (let i = 0; i < count; i++) {
      last = await this.nextNumber(streamId);
      const text = this.eventText(streamId, last, extra);
      texts.push(text);
      pipeline.xadd(keys.log, logEntryId(last), LOG_EVENT_FIELD, text, LOG_INGEST_FIELD, `ing-${last}`);
    }
    pipeline.set(keys.head, String(last));
    await pipeline.exec();
    return texts;
  }

  /**
   * Appends one idea event with the idea's state as the sequencer's step writes it in the same
   * script: projection (contracts reduceIdea), compact state and the open set. Returns the event.
   */
  async appendIdea(streamId: StreamId, eventType: IdeaEventType, data: IdeaPublishRequest): Promise<IdeaEvent> {
    const n = await this.nextNumber(streamId);
    const body = eventBodyText(
      {
        ingest_id: `ing-${streamId}-${n}`,
        stream_id: streamId,
        publisher_id: "pub-test",
        event_type: eventType,
        data,
        received_at: new Date().toISOString(),
      },
      new Date().toISOString(),
    );
    const text = eventText(n, body);
    const event = JSON.parse(text) as IdeaEvent;
    const before = await readIdeaProjection(this.redis, streamId, data.id);
    const projection = reduceIdea(before === undefined ? undefined : (JSON.parse(before) as IdeaProjection), event);
    const keys = streamKeys(streamId);
    const tx = this.redis
      .multi()
      .xadd(keys.log, logEntryId(n), LOG_EVENT_FIELD, text, LOG_INGEST_FIELD, `ing-${n}`)
      .set(keys.head, String(n))
      .hset(keys.ideas, data.id, JSON.stringify(projection))
      .hset(
        keys.ideaState,
        data.id,
        ideaStateText({ state: projection.state, timestamp: projection.timestamp, events: projection.events }),
      );
    if (projection.state === "open") tx.sadd(keys.openIdeas, data.id);
    else tx.srem(keys.openIdeas, data.id);
    await tx.exec();
    await this.js.publish(eventsSubject(streamId), text, { msgID: eventMsgId(streamId, n) });
    return event;
  }

  async halt(streamId: StreamId, reason = "IdeaUpdated for an idea that is not open"): Promise<void> {
    await this.redis.hset(streamKeys(streamId).status, {
      status: "halted",
      reason,
      since: new Date().toISOString(),
    });
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
  /** Another app on the same servers (its own hub), e.g. with a small MAX_WAITERS. */
  extraApp(maxWaiters: number): Promise<{ app: StreamGatewayApp; url: string }>;
  close(): Promise<void>;
}

export async function startGatewayFixture(options: { maxWaiters?: number } = {}): Promise<GatewayFixture> {
  const [nats, redisServer] = await Promise.all([startNatsServer(), startRedisServer()]);
  const log = createLogger({ name: "stream-gateway-test", level: process.env.HG_TEST_LOG ?? "silent" });
  const nc = await connectNats(nats.url, log, "stream-gateway-test");
  await ensureStreams(nc, { replicas: 1 });
  const redis = await connectRedis(redisServer.url, log, "stream-gateway-test");
  const apps: StreamGatewayApp[] = [];
  const start = async (maxWaiters: number) => {
    const app = await buildApp({
      log,
      nc,
      redis,
      // No control-plane cache, so an entitlement change is seen at once.
      config: { MAX_WAITERS: maxWaiters, CONTROL_PLANE_CACHE_MS: 0 },
    });
    apps.push(app);
    const url = await app.listen({ host: "127.0.0.1", port: 0 });
    return { app, url };
  };
  const { app, url } = await start(options.maxWaiters ?? 50_000);
  const controlPlane = new ControlPlane(redis, 0);
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
