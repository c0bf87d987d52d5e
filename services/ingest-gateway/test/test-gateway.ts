/**
 * For tests: the gateway app against a real nats-server and redis-server of its own, seeded with
 * two publishers (A owns resource 1 of the resources document, resource 3 with an optional key,
 * algorithm 1 and idea channel `a-ideas`; B owns resource 2, algorithm 2 and idea channel
 * `b-ideas`), plus helpers to read INGEST back and to start a real sequencer against it.
 */
import {
  ErrorBody,
  type ErrorCode,
  INGEST_STREAM,
  type IngestMessage,
  newAdminToken,
  type PublisherCredentials,
} from "@heliograph/contracts";
import { DOCUMENT_RESOURCE_1 } from "@heliograph/contracts/fixtures";
import {
  connectNats,
  connectRedis,
  createLogger,
  ensureStreams,
  type HttpApp,
  loadConfig,
  type NatsConnection,
  type Redis,
  type StreamSettings,
} from "@heliograph/platform";
import { ControlPlane, openControlBucket } from "@heliograph/store";
import {
  type NatsServerHandle,
  type RedisServerHandle,
  type ServiceHandle,
  startServers,
  startService,
} from "@heliograph/testkit";
import type { JetStreamManager } from "@nats-io/jetstream";
import type { LightMyRequestResponse } from "fastify";
import { expect } from "vitest";
import { buildApp } from "../src/app.js";
import { type IngestConfig, IngestEnv } from "../src/config.js";

export interface TestGateway {
  /** The public app (publisher API). */
  app: HttpApp;
  /** The admin app (admin API), served on its own listener by the process. */
  admin: HttpApp;
  nc: NatsConnection;
  jsm: JetStreamManager;
  redis: Redis;
  natsServer: NatsServerHandle;
  redisServer: RedisServerHandle;
  config: IngestConfig;
  controlPlane: ControlPlane;
  adminToken: string;
  /** Owns resources 1 and 3, algorithm 1 and idea channel a-ideas. */
  a: PublisherCredentials;
  /** Owns resource 2, algorithm 2 and idea channel b-ideas. */
  b: PublisherCredentials;
  /** Publisher headers of A (or of the given credentials). */
  headers(creds?: PublisherCredentials, extra?: Record<string, string>): Record<string, string>;
  /** Messages in INGEST now. */
  ingestCount(): Promise<number>;
  /** Sends, checks the error answer (status, JSON, code, the three fields) and that nothing reached INGEST. */
  expectRejected(send: () => Promise<LightMyRequestResponse>, status: number, code: ErrorCode): Promise<ErrorBody>;
  /** The last message stored on a subject, parsed, with its Nats-Msg-Id. */
  lastIngest(subject: string): Promise<{ message: IngestMessage; msgId: string | undefined; seq: number }>;
  /** Starts a sequencer process against this gateway's NATS and Redis; stopped by `stop()`. */
  startSequencer(): Promise<ServiceHandle>;
  stop(): Promise<void>;
}

export async function startTestGateway(
  options: { env?: Record<string, string>; streams?: Partial<StreamSettings> } = {},
): Promise<TestGateway> {
  const { nats: natsServer, redis: redisServer } = await startServers();
  const log = createLogger({ name: "ingest-gateway-test", level: process.env.HG_TEST_LOG ?? "silent" });
  const nc = await connectNats(natsServer, log, "ingest-gateway-test");
  const jsm = await ensureStreams(nc, { replicas: 1, ...options.streams });
  const redis = await connectRedis(redisServer.url, log, "ingest-gateway-test");
  const adminToken = newAdminToken();
  const config = loadConfig(IngestEnv, {
    NATS_URL: natsServer.url,
    REDIS_URL: redisServer.url,
    ADMIN_TOKEN: adminToken,
    ...options.env,
  });
  const { app, admin } = await buildApp({ log, nc, redis, config });
  await Promise.all([app.ready(), admin.ready()]);

  // Seeded straight into the control-plane bucket (uncached), as the admin API would.
  const controlPlane = new ControlPlane(await openControlBucket(nc, { replicas: 1 }));
  const a = await controlPlane.createPublisher({ id: "pub-a", name: "Publisher A" });
  const b = await controlPlane.createPublisher({ id: "pub-b", name: "Publisher B" });
  await controlPlane.createResource({
    ...DOCUMENT_RESOURCE_1,
    key_value_type_pairs: { ...DOCUMENT_RESOURCE_1.key_value_type_pairs },
    publisher_id: a.id,
  });
  await controlPlane.createResource({
    id: 2,
    title: "B's resource",
    key_value_type_pairs: { Symbol: "STRING" },
    publisher_id: b.id,
  });
  await controlPlane.createResource({
    id: 3,
    title: "With an optional key",
    key_value_type_pairs: { Symbol: "STRING", Price: "NUMBER", Note: { type: "STRING", optional: true } },
    publisher_id: a.id,
  });
  await controlPlane.createAlgorithm({ id: 1, name: "A's algorithm", publisher_id: a.id });
  await controlPlane.createAlgorithm({ id: 2, name: "B's algorithm", publisher_id: b.id });
  await controlPlane.createIdeaChannel({ id: "a-ideas", title: "A's ideas", publisher_id: a.id });
  await controlPlane.createIdeaChannel({ id: "b-ideas", title: "B's ideas", publisher_id: b.id });
  const sequencers: ServiceHandle[] = [];

  return {
    app,
    admin,
    nc,
    jsm,
    redis,
    natsServer,
    redisServer,
    config,
    controlPlane,
    adminToken,
    a,
    b,
    headers: (creds = a, extra = {}) => ({ "API-KEY": creds.api_key, "API-SECRET": creds.api_secret, ...extra }),
    ingestCount: async () => (await jsm.streams.info(INGEST_STREAM)).state.messages,
    async expectRejected(send, status, code) {
      const before = (await jsm.streams.info(INGEST_STREAM)).state.messages;
      const res = await send();
      expect(res.statusCode, res.body).toBe(status);
      expect(res.headers["content-type"]).toMatch(/^application\/json/);
      const body = ErrorBody.parse(res.json());
      expect(body.error.code).toBe(code);
      expect(Object.keys(body.error).sort()).toEqual(["code", "details", "message"]);
      expect((await jsm.streams.info(INGEST_STREAM)).state.messages).toBe(before);
      return body;
    },
    async lastIngest(subject) {
      const stored = await jsm.streams.getMessage(INGEST_STREAM, { last_by_subj: subject });
      if (!stored) throw new Error(`nothing stored on ${subject}`);
      return { message: stored.json<IngestMessage>(), msgId: stored.header?.get("Nats-Msg-Id"), seq: stored.seq };
    },
    async startSequencer() {
      const sequencer = await startService("sequencer", {
        ...natsServer.serviceEnv("sequencer"),
        REDIS_URL: redisServer.url,
        PARTITIONS: String(config.PARTITIONS),
      });
      sequencers.push(sequencer);
      return sequencer;
    },
    async stop() {
      await Promise.all(sequencers.map((s) => s.stop()));
      await app.close();
      if (!nc.isClosed()) await nc.close();
      redis.disconnect();
      await Promise.all([natsServer.stop(), redisServer.stop()]);
    },
  };
}
