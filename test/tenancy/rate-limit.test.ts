import { adminCall } from "@heliograph/admin-client";
import {
  EVENTS_STREAM,
  INGEST_STREAM,
  type PublisherCredentials,
  type StreamInfo,
  type SubscriberCredentials,
} from "@heliograph/contracts";
import { DOCUMENT_TRADING_SIGNAL_BODY } from "@heliograph/contracts/fixtures";
import { type DevConfig, seedDemoTenant } from "@heliograph/dev-stack/seed";
import { type Stack, startStack, waitFor } from "@heliograph/testkit";
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// Small limits so the test reaches them with a handful of requests: 1 per second, burst 2.
const LIMITS = {
  PUBLISHER_RATE_LIMIT: "1",
  PUBLISHER_RATE_BURST: "2",
  SUBSCRIBER_RATE_LIMIT: "1",
  SUBSCRIBER_RATE_BURST: "2",
};

let stack: Stack;
let dev: DevConfig;
let other: PublisherCredentials;
let otherSubscriber: SubscriberCredentials;
let nc: NatsConnection;
let jsm: JetStreamManager;

const admin = <T>(path: string, body: unknown) => adminCall<T>(stack.admin, "POST", path, body);

beforeAll(async () => {
  stack = await startStack({ env: LIMITS });
  dev = await seedDemoTenant(stack);
  other = await admin<PublisherCredentials>("/publishers", { id: "other-publisher", name: "Other" });
  await admin("/algorithms", { id: 2, name: "Other's", publisher_id: other.id });
  otherSubscriber = await admin<SubscriberCredentials>("/subscribers", { name: "Other", streams: ["algorithm-2"] });
  nc = await connect(stack.nats.connectOptions());
  jsm = await jetstreamManager(nc);
}, 90_000);

afterAll(async () => {
  await nc?.close();
  await stack?.stop();
});

const publish = (creds: { api_key: string; api_secret: string }, algorithmId: number) =>
  fetch(`${dev.ingest_url}/api/v1/create_trading_signal`, {
    method: "POST",
    headers: { "API-KEY": creds.api_key, "API-SECRET": creds.api_secret, "content-type": "application/json" },
    body: JSON.stringify({ ...DOCUMENT_TRADING_SIGNAL_BODY, algorithm_id: algorithmId }),
  });

const read = (token: string, streamId: string) =>
  fetch(`${dev.stream_url}/api/v1/stream/${streamId}/`, { headers: { authorization: `Bearer ${token}` } });

describe("rate limits per key", () => {
  it("a publisher over its limit gets 429 with Retry-After; another publisher is unaffected; nothing extra is stored", async () => {
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await publish(dev.publisher, 1)).status);
    expect(statuses.slice(0, 2)).toEqual([202, 202]);
    expect(statuses.slice(2)).toContain(429);

    const limited = await publish(dev.publisher, 1);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(((await limited.json()) as { error: { code: string } }).error.code).toBe("RATE_LIMITED");

    expect((await publish(other, 2)).status).toBe(202);

    const accepted = statuses.filter((s) => s === 202).length;
    // INGEST is a work queue: empty once the sequencer has numbered (and acked) every stored
    // publish. Only then is a count final; a head seen earlier could still grow.
    await waitFor(async () => (await jsm.streams.info(INGEST_STREAM)).state.messages === 0, {
      what: "INGEST drained by the sequencer",
    });
    // Exactly the accepted publishes were numbered, and nothing else: the heads and the events say so.
    const headOf = async (sid: string) => (await adminCall<StreamInfo>(stack.admin, "GET", `/streams/${sid}`)).head;
    expect(await headOf("algorithm-1")).toBe(accepted - 1);
    expect(await headOf("algorithm-2")).toBe(0);
    const subjects = await jsm.streams.info(EVENTS_STREAM, { subjects_filter: "events.>" });
    expect(subjects.state.subjects).toEqual({ "events.algorithm-1": accepted, "events.algorithm-2": 1 });
  });

  it("a subscriber over its limit gets 429 with Retry-After; another subscriber is unaffected", async () => {
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await read(dev.subscriber.token, "algorithm-1")).status);
    expect(statuses.slice(0, 2)).toEqual([200, 200]);
    const limited = await read(dev.subscriber.token, "algorithm-1");
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect((await read(otherSubscriber.token, "algorithm-2")).status).toBe(200);
  });
});
