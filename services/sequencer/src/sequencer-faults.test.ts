import { INGEST_STREAM, type StreamId } from "@heliograph/contracts";
import { createLogger } from "@heliograph/platform";
import { readHead } from "@heliograph/store";
import { waitFor } from "@heliograph/testkit";
import { beforeAll, describe, expect, it } from "vitest";
import { ingestMessage, publishIngest, readNumbered } from "../test/ingest-fixture.js";
import { type SequencerInstance, useSequencerServers } from "../test/sequencer-fixture.js";

const log = createLogger({ name: "sequencer-test", level: process.env.TEST_LOG_LEVEL ?? "error" });

describe("sequencer under NATS and Redis restarts", () => {
  // Servers of its own: this test stops and restarts them.
  const { ctx, start } = useSequencerServers(log, { ownServers: true });
  let instance: SequencerInstance;

  beforeAll(async () => {
    // Leases outlive the Redis outage below: this test is about the numbering step retrying across
    // restarts, not about losing partitions (test/fault/sequencer-failover.test.ts is).
    instance = await start("seq-faults", { LEASE_TTL_MS: 15_000 });
  });

  /** Publishes k = from..to-1 to every stream, retrying a publish the server did not confirm. */
  async function publish(streams: StreamId[], from: number, to: number) {
    for (let k = from; k < to; k++) {
      await Promise.all(
        streams.map((sid) =>
          waitFor(() => publishIngest(ctx.js, ingestMessage(sid, `${sid}-${k}`, k)), {
            timeoutMs: 15_000,
            intervalMs: 100,
            what: "publish",
          }),
        ),
      );
    }
  }

  async function expectExactlyOnceInOrder(streamId: StreamId, count: number) {
    const { texts, events, published } = await readNumbered(ctx.redis, ctx.js, streamId);
    expect(events.map((e) => e.event_number)).toEqual([...Array(count).keys()]);
    expect(events.map((e) => e.data.k)).toEqual([...Array(count).keys()]);
    expect(published).toEqual(texts);
  }

  /** Retries of the operations that go to Redis, summed. */
  async function redisWorkRetries(): Promise<number> {
    const text = await instance.metrics.getSingleMetricAsString("heliograph_sequencer_retries_total");
    return [...text.matchAll(/operation="(?:number|verify|mark-streams|consumer|drain)"[^}]*} (\d+)$/gm)].reduce(
      (sum, m) => sum + Number(m[1]),
      0,
    );
  }

  it("keeps numbering contiguous and in order across a NATS restart and a Redis restart", async () => {
    const streams = ["fault-a", "fault-b", "fault-c"];
    await publish(streams, 0, 50);
    await waitFor(async () => (await readHead(ctx.redis, "fault-a")) >= 10, { what: "numbering started" });

    await ctx.natsServer.stop();
    await ctx.natsServer.restart();
    await publish(streams, 50, 100);
    // Caught up after the NATS restart before Redis goes: a consumer the sequencer is still
    // recreating then would retry for NATS's sake, and the count below must be Redis's doing.
    await waitFor(async () => (await Promise.all(streams.map((s) => readHead(ctx.redis, s)))).every((h) => h === 99), {
      what: "every stream numbered up to 99",
      timeoutMs: 30_000,
    });
    const before = await redisWorkRetries();

    // Redis is down while INGEST fills: the sequencer retries the same batch until it is back.
    await ctx.redisServer.stop();
    await publish(streams, 100, 150);
    // The fault had its effect: Redis work was retried (numbering a batch, verifying a stream
    // before numbering it, checking the epoch before recreating the consumer: whichever the
    // worker was at when Redis went away).
    await waitFor(async () => (await redisWorkRetries()) > before, {
      what: "a retry of Redis work",
      timeoutMs: 20_000,
    });
    await ctx.redisServer.restart();

    await waitFor(async () => (await Promise.all(streams.map((s) => readHead(ctx.redis, s)))).every((h) => h === 149), {
      what: "every stream numbered",
      timeoutMs: 30_000,
    });
    for (const sid of streams) await expectExactlyOnceInOrder(sid, 150);
    await waitFor(async () => (await ctx.jsm.streams.info(INGEST_STREAM)).state.messages === 0, {
      what: "INGEST drained",
      timeoutMs: 10_000,
    });
  });
});
