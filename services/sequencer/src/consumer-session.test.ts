import { DEFAULT_PARTITION_COUNT, partitionOf } from "@heliograph/contracts";
import { connectNats, createLogger, ensureStreams, type NatsConnection } from "@heliograph/platform";
import { type NatsServerHandle, startNatsServer, waitFor } from "@heliograph/testkit";
import { type JetStreamClient, type JetStreamManager, jetstream } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ingestMessage, publishIngest } from "../test/ingest-fixture.js";
import { ConsumerSession, type SessionEvents } from "./consumer-session.js";

const log = createLogger({ name: "consumer-session-test", level: "error" });

describe("a partition's consumer session on a real nats-server", () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let js: JetStreamClient;
  const streamId = "session-stream";
  const partition = partitionOf(streamId, DEFAULT_PARTITION_COUNT);
  const resyncs: string[] = [];
  const events: SessionEvents = { received: () => {}, resync: (reason) => resyncs.push(reason), busy: () => false };

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connectNats(server, log, "consumer-session-test");
    jsm = await ensureStreams(nc, { replicas: 1, log });
    js = jetstream(nc);
    for (let k = 0; k < 3; k++) await publishIngest(js, ingestMessage(streamId, `s-${k}`, k));
  });
  afterAll(async () => {
    await nc?.drain().catch(() => {});
    await server?.stop();
  });

  it("refuses to reuse a consumer whose delete was lost, and a real reopen delivers the dropped messages again", async () => {
    const deps = { nc, js, jsm, log, batchMax: 100 };
    const first = await ConsumerSession.open(partition, deps, events);
    await waitFor(() => first.size === 3, { what: "the three INGEST messages received" });
    // Received, never numbered nor acked: closing drops them, trusting the next consumer to redeliver.
    await first.close();

    // A delete lost in a leader change: the add then finds the old incarnation with its unacked
    // deliveries, which would hold those messages for the whole ack wait.
    const lostDelete = new Proxy(jsm.consumers, {
      get: (target, prop) => (prop === "delete" ? async () => true : Reflect.get(target, prop)),
    });
    const withLostDelete = { ...deps, jsm: { ...jsm, consumers: lostDelete } as JetStreamManager };
    await expect(ConsumerSession.open(partition, withLostDelete, events)).rejects.toThrow(/was not recreated/);

    const second = await ConsumerSession.open(partition, deps, events);
    try {
      await waitFor(() => second.size === 3, { what: "the dropped messages delivered again" });
      const again = second.take(3);
      expect(again.map((m) => m.info.deliverySequence)).toEqual([1, 2, 3]);
      expect(again.map((m) => m.json<{ ingest_id: string }>().ingest_id)).toEqual(["s-0", "s-1", "s-2"]);
      expect(resyncs).toEqual([]);
    } finally {
      await second.close();
    }
  });
});
