import { INGEST_STREAM, sequencerConsumerName } from "@heliograph/contracts";
import {
  connectNats,
  createLogger,
  ensureStreams,
  isConsumerNotFound,
  isStreamNotFound,
  type NatsConnection,
} from "@heliograph/platform";
import { type NatsServerHandle, startNatsServer } from "@heliograph/testkit";
import { JetStreamApiError, type JetStreamManager } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The matchers live in packages/platform, which has no testkit; the consumer session relies on them.
const log = createLogger({ name: "test", level: "error" });

async function rejection(run: () => Promise<unknown>): Promise<unknown> {
  try {
    await run();
  } catch (err) {
    return err;
  }
  throw new Error("expected the JetStream API to refuse");
}

describe("JetStream API errors from a real server", () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let jsm: JetStreamManager;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connectNats(server, log, "jetstream-errors");
    jsm = await ensureStreams(nc, { replicas: 1, log });
  });
  afterAll(async () => {
    await nc?.drain().catch(() => {});
    await server?.stop();
  });

  it("recognises deleting a consumer that does not exist as consumer-not-found", async () => {
    const err = await rejection(() => jsm.consumers.delete(INGEST_STREAM, sequencerConsumerName(3)));
    expect(isConsumerNotFound(err)).toBe(true);
    expect(isStreamNotFound(err)).toBe(false);
    // What the sequencer used to match on: v3 keeps the API error private.
    expect((err as { api_error?: unknown }).api_error).toBeUndefined();
  });

  it("recognises a stream that does not exist as stream-not-found", async () => {
    const err = await rejection(() => jsm.streams.info("NO_SUCH_STREAM"));
    expect(isStreamNotFound(err)).toBe(true);
    expect(isConsumerNotFound(err)).toBe(false);
  });

  it("does not take other API refusals for not-found", async () => {
    const err = await rejection(() => jsm.streams.add({ name: INGEST_STREAM, subjects: ["elsewhere.>"] }));
    expect(err).toBeInstanceOf(JetStreamApiError);
    // "stream name already in use", which ensureStreams takes for another service's creation.
    expect((err as JetStreamApiError).code).toBe(10058);
    expect(isConsumerNotFound(err)).toBe(false);
    expect(isStreamNotFound(err)).toBe(false);
  });
});
