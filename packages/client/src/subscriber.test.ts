import { randomUUID } from "node:crypto";
import { adminRequest } from "@heliograph/admin-client";
import {
  type IdeaProjection,
  type IdeaPublishRequest,
  type IngestMessage,
  ideasStreamId,
  ingestSubject,
  partitionOf,
  type TradingSignalRequest,
} from "@heliograph/contracts";
import {
  DOCUMENT_IDEA_CLOSED,
  DOCUMENT_IDEA_OPENED,
  DOCUMENT_IDEA_UPDATED,
  DOCUMENT_TRADING_SIGNAL_BODY,
  DOCUMENT_UPLOAD_RESOURCE_BODY,
} from "@heliograph/contracts/fixtures";
import { type DevConfig, seedDemoTenant } from "@heliograph/dev-stack/seed";
import { type Stack, startStack, waitFor, waitForHeldLongPoll } from "@heliograph/testkit";
import { jetstream } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPublisher, type Publisher } from "./publisher.js";
import { createSubscriber, type FollowItem, type FollowOptions, type Subscriber } from "./subscriber.js";

// The subscriber SDK against a real stack: EVENTS keeps 50 events per stream and Redis 10, so a
// read from the start of a longer stream is answered 410 POSITION_EVICTED.
const EVENTS_CAP = 50;

let stack: Stack;
let nc: NatsConnection;
let dev: DevConfig;
let publisher: Publisher;
let subscriber: Subscriber;

beforeAll(async () => {
  stack = await startStack({
    env: {
      EVENTS_MAX_MSGS_PER_SUBJECT: String(EVENTS_CAP),
      HOT_WINDOW_EVENTS: "10",
      HOT_WINDOW_SIGNAL_EVENTS: "10",
      HOT_WINDOW_IDEA_EVENTS: "10",
    },
  });
  nc = await connect(stack.nats.connectOptions());
  dev = await seedDemoTenant(stack);
  publisher = createPublisher({
    baseUrl: stack.ingest.url,
    apiKey: dev.publisher.api_key,
    apiSecret: dev.publisher.api_secret,
  });
  subscriber = createSubscriber({ baseUrl: stack.stream.url, token: dev.subscriber.token });
}, 60_000);
afterAll(async () => {
  await nc?.close();
  await stack?.stop();
});

/** Follows a stream in the background, keeping every item and every failure it was told about. */
function startFollower(streamId: string, options: Omit<FollowOptions, "signal" | "onError"> = {}) {
  const controller = new AbortController();
  const items: FollowItem[] = [];
  const failures: Error[] = [];
  const done = (async () => {
    const follow = subscriber.follow(streamId, {
      ...options,
      signal: controller.signal,
      onError: (err) => failures.push(err),
    });
    for await (const item of follow) items.push(item);
  })();
  return {
    items,
    failures,
    done,
    numbers: () => items.flatMap((item) => (item.kind === "event" ? [item.event.event_number] : [])),
    async stop() {
      controller.abort();
      await done;
    },
  };
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

/** The document's example `data` for an idea call, for another idea id and time. */
function ideaBody(example: { data: object }, id: string, timestamp: string): IdeaPublishRequest {
  const { published_at: _, ...data } = structuredClone(example.data) as IdeaPublishRequest & { published_at: string };
  return { ...data, id, timestamp };
}
const at = (second: number) => new Date(Date.UTC(2018, 5, 4, 15, 0, second)).toISOString();

describe("createSubscriber against the real stack", () => {
  it("follow() yields what the publisher client published, in order; a kill -9 of the stream gateway mid-follow loses and repeats nothing", async () => {
    const signal = DOCUMENT_TRADING_SIGNAL_BODY as TradingSignalRequest;
    const follower = startFollower(dev.streams.algorithm, { longPollSeconds: 2, batchSize: 7 });
    for (let i = 0; i < 20; i++) await publisher.createTradingSignal(signal);
    await waitFor(() => follower.numbers().length >= 20, { timeoutMs: 15_000, what: "the first 20 events" });
    // The follower is now held in a long poll at the end of the stream: the kill cuts it.
    await waitForHeldLongPoll(stack.stream.url);
    await stack.killHard("stream-gateway");
    for (let i = 0; i < 20; i++) await publisher.createTradingSignal(signal);
    await stack.restart("stream-gateway");
    await waitFor(() => follower.numbers().length >= 40, { timeoutMs: 20_000, what: "all 40 events" });
    await follower.stop();

    expect(follower.numbers()).toEqual(range(0, 40));
    expect(follower.failures.length).toBeGreaterThan(0);
    expect(follower.items.every((item) => item.kind === "event")).toBe(true);
  }, 60_000);

  it("a 410 POSITION_EVICTED is yielded with the earliest number: follow ends there unless the caller continues from it", async () => {
    const total = EVENTS_CAP + 10;
    for (let i = 0; i < total - 1; i++) await publisher.uploadResource(DOCUMENT_UPLOAD_RESOURCE_BODY);
    const lastAnswer = await publisher.uploadResource(DOCUMENT_UPLOAD_RESOURCE_BODY, { waitForNumber: 10 });
    expect(lastAnswer).toMatchObject({ status: "sequenced", event_number: total - 1 });
    const earliest = total - EVENTS_CAP;

    const stopped: FollowItem[] = [];
    for await (const item of subscriber.follow(dev.streams.resource, { longPollSeconds: 1 })) stopped.push(item);
    expect(stopped).toEqual([{ kind: "evicted", after: -1, earliest, continueFromEarliest: expect.any(Function) }]);

    const controller = new AbortController();
    const numbers: number[] = [];
    for await (const item of subscriber.follow(dev.streams.resource, {
      longPollSeconds: 1,
      signal: controller.signal,
    })) {
      if (item.kind === "evicted") item.continueFromEarliest();
      if (item.kind === "event") numbers.push(item.event.event_number);
      if (numbers.length === EVENTS_CAP) controller.abort();
    }
    expect(numbers).toEqual(range(earliest, total));

    const latest = await subscriber.latest(dev.streams.resource);
    expect(latest.map((e) => e.event_number)).toEqual(range(total - 10, total));
  }, 60_000);

  it("a halted stream is yielded as a status item, and live again once an operator skips the offending event", async () => {
    const channel = "halting";
    const created = await adminRequest(stack.admin, "POST", "/channels", {
      id: channel,
      title: "Halting",
      publisher_id: dev.publisher.id,
    });
    expect(created.status).toBe(201);
    const streamId = ideasStreamId(channel);
    const entitled = await adminRequest(stack.admin, "PUT", `/subscribers/${dev.subscriber.id}/streams`, {
      streams: [...Object.values(dev.streams), streamId],
    });
    expect(entitled.status).toBe(200);

    const follower = startFollower(streamId, { longPollSeconds: 1 });
    const opened = await publisher.openIdea(channel, ideaBody(DOCUMENT_IDEA_OPENED, "halting-1", at(0)), {
      waitForNumber: 10,
    });
    expect(opened).toMatchObject({ status: "sequenced", event_number: 0 });

    // An update of an idea never opened cannot pass the gateway's pre-check, so it comes as an
    // INGEST message from another writer of the public subject: the sequencer halts the stream.
    const stray: IngestMessage = {
      ingest_id: `ing_stray_${randomUUID()}`,
      stream_id: streamId,
      publisher_id: dev.publisher.id,
      event_type: "IdeaUpdated",
      data: ideaBody(DOCUMENT_IDEA_UPDATED, "never-opened", at(1)),
      received_at: new Date().toISOString(),
    };
    await jetstream(nc).publish(ingestSubject(partitionOf(streamId), streamId), JSON.stringify(stray), {
      msgID: stray.ingest_id,
    });
    await waitFor(() => follower.items.some((item) => item.kind === "status"), {
      timeoutMs: 15_000,
      what: "the halted status",
    });

    const resolved = await adminRequest(stack.admin, "POST", `/streams/${streamId}/resolve`, { action: "skip" });
    expect(resolved.status).toBe(200);
    await publisher.updateIdea(channel, ideaBody(DOCUMENT_IDEA_UPDATED, "halting-1", at(2)));
    await waitFor(() => follower.numbers().includes(1), { timeoutMs: 15_000, what: "event 1 after the skip" });
    await follower.stop();

    expect(follower.items.map((item) => (item.kind === "event" ? item.event.event_number : item.kind))).toEqual([
      0,
      "status",
      "status",
      1,
    ]);
    expect(follower.items.filter((item) => item.kind === "status").map((item) => item.status)).toEqual([
      "halted",
      "live",
    ]);
  }, 60_000);

  it("ideas(channel) folds the channel's events into what the gateway's idea route answers", async () => {
    const closedId = "fold-closed";
    const openId = "fold-open";
    await publisher.openIdea(dev.idea_channel, ideaBody(DOCUMENT_IDEA_OPENED, closedId, at(0)), { waitForNumber: 10 });
    await publisher.openIdea(dev.idea_channel, ideaBody(DOCUMENT_IDEA_OPENED, openId, at(1)), { waitForNumber: 10 });
    await publisher.updateIdea(dev.idea_channel, ideaBody(DOCUMENT_IDEA_UPDATED, closedId, at(2)), {
      waitForNumber: 10,
    });
    await publisher.closeIdea(dev.idea_channel, ideaBody(DOCUMENT_IDEA_CLOSED, closedId, at(3)), {
      waitForNumber: 10,
    });

    const ideas = await subscriber.ideas(dev.idea_channel);
    expect([...ideas.keys()].sort()).toEqual([closedId, openId]);
    expect(ideas.get(closedId)).toMatchObject({ state: "closed", events: 3 });
    expect(ideas.get(openId)).toMatchObject({ state: "open", events: 1 });
    for (const id of [closedId, openId]) {
      const res = await fetch(`${stack.stream.url}/api/v1/ideas/${dev.idea_channel}/${id}`, {
        headers: { authorization: `Bearer ${dev.subscriber.token}` },
      });
      expect(res.status).toBe(200);
      expect(ideas.get(id)).toEqual((await res.json()) as IdeaProjection);
    }
  }, 60_000);

  it("an AbortSignal ends follow() at once, even while a long poll is held", async () => {
    const follower = startFollower(dev.streams.ideas, { after: 1_000, longPollSeconds: 30 });
    await waitForHeldLongPoll(stack.stream.url);
    const started = performance.now();
    await follower.stop();
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(follower.items).toEqual([]);
  }, 30_000);
});
