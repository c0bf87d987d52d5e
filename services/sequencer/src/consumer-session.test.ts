import { DEFAULT_PARTITION_COUNT, partitionOf } from "@heliograph/contracts";
import { connectNats, createLogger, ensureStreams, type NatsConnection } from "@heliograph/platform";
import { type NatsServerHandle, startNatsServer, waitFor } from "@heliograph/testkit";
import { type JetStreamClient, type JetStreamManager, jetstream } from "@nats-io/jetstream";
import type { NatsConnection as CoreConnection } from "@nats-io/nats-core";
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
      for (const m of again) m.ack();
      // Acked before the consumer goes: the next test's consumer starts on its own messages.
      await nc.flush();
    } finally {
      await second.close();
    }
  });

  it("notices within about a second a pull request the server never holds, and asks to be replaced", async () => {
    // nats-server 2.9 drops a pull request without a word when a message comes in between the
    // request's expiry and its sweep of expired requests (seen in the soak: no waiting pulls,
    // messages pending, no 408). The client then waits for missed heartbeats. Losing the pull on
    // its way to the server leaves the consumer in the same state, deterministically.
    let dropped = 0;
    const losesPulls = new Proxy(nc, {
      get(target, prop) {
        if (prop !== "publish") return Reflect.get(target, prop);
        return (subject: string, ...rest: unknown[]) => {
          if (subject.includes(".CONSUMER.MSG.NEXT.")) {
            dropped++;
            return;
          }
          return (target.publish as (s: string, ...r: unknown[]) => void)(subject, ...rest);
        };
      },
    }) as CoreConnection;
    const asked: Array<[reason: string, at: number]> = [];
    const session = await ConsumerSession.open(
      partition,
      { nc, js: jetstream(losesPulls), jsm, log, batchMax: 100 },
      { received: () => {}, resync: (reason) => asked.push([reason, Date.now()]), busy: () => false },
    );
    const start = Date.now();
    try {
      await publishIngest(js, ingestMessage(streamId, "s-lost-pull", 3));
      await waitFor(() => asked.length > 0, { what: "the session asks to be replaced", timeoutMs: 15_000 });
      expect(dropped).toBeGreaterThan(0);
      expect(session.size).toBe(0);
      expect(asked[0]![0]).toBe("consumer status heartbeats_missed");
      // Two missed heartbeats of 2 s each (4-6 s) before; the partition's events waited as long.
      expect(asked[0]![1] - start).toBeLessThan(2_500);
    } finally {
      await session.close();
    }
  });

  it("a full queue the worker does not take from for 3 s is backpressure, not a lost pull: no resync, nothing lost", async () => {
    // Another partition than the tests above use, so its consumer holds this test's messages only.
    let n = 0;
    while (partitionOf(`backlog-${n}`, DEFAULT_PARTITION_COUNT) === partition) n++;
    const backlogStream = `backlog-${n}`;
    const total = 3_000;
    await Promise.all(
      Array.from({ length: total }, (_, k) => publishIngest(js, ingestMessage(backlogStream, `b-${k}`, k))),
    );
    const asked: string[] = [];
    const session = await ConsumerSession.open(
      partitionOf(backlogStream, DEFAULT_PARTITION_COUNT),
      { nc, js, jsm, log, batchMax: 100 },
      { received: () => {}, resync: (reason) => asked.push(reason), busy: () => true },
    );
    try {
      // The intake stops at 1,000 queued; the pulls still owed wait behind them, so the server
      // goes silent (no request, no heartbeat) for as long as the worker is busy.
      await waitFor(() => session.size === 1_000, { what: "the queue full" });
      // A window, not a wait for a result: what is checked is that nothing happens in it, and it
      // spans six heartbeat intervals (two missed ones asked for a resync before the fix).
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      expect(asked).toEqual([]);
      const taken: string[] = [];
      await waitFor(
        () => {
          for (const m of session.take(100)) {
            taken.push(m.json<{ ingest_id: string }>().ingest_id);
            m.ack();
          }
          return taken.length === total;
        },
        { what: "every message taken, the pulls resumed" },
      );
      expect(taken).toEqual(Array.from({ length: total }, (_, k) => `b-${k}`));
      expect(asked).toEqual([]);
    } finally {
      await session.close();
    }
  });
});
