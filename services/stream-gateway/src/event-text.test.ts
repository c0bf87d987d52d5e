import {
  eventMsgId,
  eventsArrayText,
  eventsSubject,
  eventText,
  type IngestMessage,
  type StreamEvent,
  streamEventText,
} from "@heliograph/contracts";
import {
  connectNats,
  connectRedis,
  createLogger,
  ensureStreams,
  type NatsConnection,
  type Redis,
  Registry,
} from "@heliograph/platform";
import { runSequenceStep, stepInputOf } from "@heliograph/sequencer/sequence-step";
import { readEventsAfter } from "@heliograph/store";
import { type NatsServerHandle, type RedisServerHandle, startServers, waitFor } from "@heliograph/testkit";
import { jetstream } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StreamHub, type WakeReason } from "./hub.js";

// The event's JSON text has one definition (contracts eventText) and is serialised once; these
// are all the places that produce it, held to the same bytes for the same events.
const log = createLogger({ name: "test", level: "error" });
const STREAM = "event-text";
const PUBLISHED_AT = "2026-12-01T10:00:00.123Z";

const messages: IngestMessage[] = [
  {
    ingest_id: "ing-text-0",
    stream_id: STREAM,
    publisher_id: "pub-text",
    event_type: "TradingSignalCreated",
    // What serialisers disagree on: escapes, non-ASCII, a lone surrogate, numbers, nesting, order.
    data: {
      timestamp: "2026-12-01T09:59:59Z",
      id: "sig-1",
      note: 'quote " backslash \\ newline \n tab \t ünïcödé ☃ 🚀 \u0001 \ud800',
      price: 1.5e-7,
      big: 1e21,
      nested: { z: [1, null, true, { "": "" }], a: -0 },
    },
    received_at: "2026-12-01T10:00:00.000Z",
  },
  {
    ingest_id: "ing-text-1",
    stream_id: STREAM,
    publisher_id: "pub-text",
    event_type: "IdeaOpened",
    data: { id: "idea-1", timestamp: "2026-12-01T10:00:00Z", idea: { ticker: "AAPL" }, origin: "desk" },
    received_at: "2026-12-01T10:00:00.001Z",
  },
];

/** The events as subscribers read them, fields in StreamEvent's order. */
const events: StreamEvent[] = messages.map((message, n) => ({
  event_number: n,
  event_type: message.event_type,
  data: { ...message.data, published_at: PUBLISHED_AT },
}));

describe("the event text, from every producer", () => {
  let natsServer: NatsServerHandle;
  let redisServer: RedisServerHandle;
  let nc: NatsConnection;
  let redis: Redis;
  let hub: StreamHub;

  beforeAll(async () => {
    ({ nats: natsServer, redis: redisServer } = await startServers());
    nc = await connectNats(natsServer, log, "event-text");
    await ensureStreams(nc, { replicas: 1, log });
    redis = await connectRedis(redisServer.url, log, "event-text");
    hub = new StreamHub({ nc, log, metrics: new Registry(), maxWaiters: 10 });
    await hub.start();
  });
  afterAll(async () => {
    await hub?.stop();
    await nc?.drain().catch(() => {});
    await redis?.quit().catch(() => {});
    await Promise.all([natsServer?.stop(), redisServer?.stop()]);
  });

  it("is byte-identical from contracts, the Lua step, sequence-step.ts and the hub", async () => {
    // contracts: the definition, and what JSON.stringify makes of the same event.
    const expected = events.map(streamEventText);
    expect(expected).toEqual(events.map((event) => JSON.stringify(event)));

    // sequence-step.ts builds the text of a fresh number; the Lua step writes it to the log.
    const inputs = messages.map((message) => stepInputOf(message, JSON.stringify(message), PUBLISHED_AT));
    const fresh = await runSequenceStep(redis, STREAM, 1, 3600, inputs);
    expect(fresh.outcomes).toEqual(
      expected.map((text, n) => ({ kind: "numbered", eventNumber: n, text, fresh: true })),
    );
    const logged = await readEventsAfter(redis, STREAM, -1, 10);
    expect(logged).toEqual(expected);
    // A redelivery: the Lua step answers with the text it stored.
    const again = await runSequenceStep(redis, STREAM, 1, 3600, inputs);
    expect(again.outcomes).toEqual(
      expected.map((text, n) => ({ kind: "numbered", eventNumber: n, text, fresh: false })),
    );
    expect(inputs.map((input, n) => eventText(n, input.bodyText))).toEqual(expected);

    // The hub: the stored text published on EVENTS (as the sequencer does) wakes a waiter with the
    // same body a read of the log answers with.
    const woken: (WakeReason | undefined)[] = [undefined, undefined];
    for (const n of [0, 1])
      hub.register({
        streamId: STREAM,
        after: n - 1,
        wake: (reason) => {
          woken[n] = reason;
        },
      });
    const js = jetstream(nc);
    for (const [n, text] of logged.entries())
      await js.publish(eventsSubject(STREAM), text, { msgID: eventMsgId(STREAM, n) });
    await waitFor(() => woken.every((reason) => reason !== undefined), { what: "both waiters woken" });
    expect(woken).toEqual(
      expected.map((text, n) => ({ kind: "event", eventNumber: n, text, body: eventsArrayText([text]) })),
    );
    expect(woken.map((reason) => (reason as { body: string }).body)).toEqual(expected.map((text) => `[${text}]`));
    expect(eventsArrayText(logged)).toBe(`[${expected.join(",")}]`);
  });
});
