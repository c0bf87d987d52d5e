import { DEFAULT_PARTITION_COUNT, INGEST_STREAM, type StreamEvent, type StreamId } from "@heliograph/contracts";
import { createLogger, createMetricsRegistry } from "@heliograph/platform";
import {
  LOG_INGEST_FIELD,
  partitionLeaseKey,
  readEventsAfter,
  readHalt,
  readHead,
  readParked,
  resolveHalt,
  streamKeys,
} from "@heliograph/store";
import { waitFor } from "@heliograph/testkit";
import { describe, expect, it } from "vitest";
import {
  ingestMessage,
  publishIngest,
  readNumbered,
  streamOnSamePartition,
  streamsOnDistinctPartitions,
} from "../test/ingest-fixture.js";
import { useSequencerServers } from "../test/sequencer-fixture.js";
import { buildApp } from "./app.js";

const log = createLogger({ name: "sequencer-test", level: process.env.TEST_LOG_LEVEL ?? "error" });

describe("sequencer", () => {
  const { ctx, start: startInstance } = useSequencerServers(log);

  async function events(streamId: StreamId): Promise<StreamEvent[]> {
    return (await readEventsAfter(ctx.redis, streamId, -1, 100_000)).map((text) => JSON.parse(text) as StreamEvent);
  }

  /** The log holds 0..count-1 with data.k in publish order, and EVENTS holds exactly the same texts. */
  async function expectNumbered(streamId: StreamId, count: number) {
    const { texts, events, published } = await readNumbered(ctx.redis, ctx.js, streamId);
    expect(events.map((e) => e.event_number)).toEqual([...Array(count).keys()]);
    expect(events.map((e) => e.data.k)).toEqual([...Array(count).keys()]);
    for (const e of events) expect(e.data.published_at).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(published).toEqual(texts);
  }

  it("numbers each stream 0..n-1 in publish order across partitions, and EVENTS matches the log", async () => {
    const a = await startInstance("seq-order");
    await waitFor(() => a.sequencer.ownedPartitions().length === DEFAULT_PARTITION_COUNT, {
      what: "all partitions owned",
    });
    const streams = [...streamsOnDistinctPartitions("order", 5), streamsOnDistinctPartitions("order-b", 1)[0]!];
    const perStream = 120;
    const publishes: Promise<unknown>[] = [];
    for (let k = 0; k < perStream; k++)
      for (const sid of streams) publishes.push(publishIngest(ctx.js, ingestMessage(sid, `${sid}-i${k}`, k)));
    await Promise.all(publishes);
    await waitFor(
      async () => (await Promise.all(streams.map((s) => readHead(ctx.redis, s)))).every((h) => h === perStream - 1),
      {
        what: "every stream numbered",
      },
    );
    for (const sid of streams) await expectNumbered(sid, perStream);
    // The log entry remembers its ingest id.
    const [, fields] = (await ctx.redis.xrange(streamKeys(streams[0]!).log, "-", "+", "COUNT", 1))[0]!;
    expect(fields).toEqual(expect.arrayContaining([LOG_INGEST_FIELD, `${streams[0]}-i0`]));
    // INGEST is a work queue: numbered and acked messages are gone.
    await waitFor(async () => (await ctx.jsm.streams.info(INGEST_STREAM)).state.messages === 0, {
      what: "INGEST drained",
    });
    const metricsText = await a.metrics.metrics();
    expect(metricsText).toContain(
      `heliograph_sequencer_events_total{service="sequencer"} ${streams.length * perStream}`,
    );
    expect(metricsText).toContain(
      `heliograph_sequencer_partitions_owned{service="sequencer"} ${DEFAULT_PARTITION_COUNT}`,
    );
    // Each numbered event's wait since INGEST stored it, once.
    expect(metricsText).toContain(
      `heliograph_sequencer_numbering_delay_seconds_count{service="sequencer"} ${streams.length * perStream}`,
    );

    // An idle partition numbers a lone message at once, without waiting for a batch to fill.
    const lone = "order-lone";
    const t0 = performance.now();
    await publishIngest(ctx.js, ingestMessage(lone, "lone-0", 0));
    await waitFor(async () => (await readHead(ctx.redis, lone)) === 0, { intervalMs: 2, what: "lone message" });
    // Well before a pull's 30 s expiry: the lone message did not wait for a batch to fill or a
    // pull to lapse (speed itself is the benchmark's).
    expect(performance.now() - t0).toBeLessThan(3_000);
    await a.stop();
    expect(a.sequencer.ownedPartitions()).toEqual([]);
    // One EXISTS per key: on a Redis Cluster the lease keys are in different slots.
    const leases = await Promise.all(
      [...Array(DEFAULT_PARTITION_COUNT).keys()].map((p) => ctx.redis.exists(partitionLeaseKey(p))),
    );
    expect(leases.filter((n) => n > 0)).toEqual([]);
  });

  it("numbers an ingest message once even when it is stored twice", async () => {
    const a = await startInstance("seq-dedup");
    const sid = "dedup-stream";
    const first = ingestMessage(sid, "dup-1", 0);
    await publishIngest(ctx.js, first);
    await waitFor(async () => (await readHead(ctx.redis, sid)) === 0, { what: "first numbered" });
    // The same ingest id after the JetStream duplicate window: a different Nats-Msg-Id.
    await publishIngest(ctx.js, first, { msgID: "dup-1-again" });
    // And twice in one batch.
    await Promise.all([
      publishIngest(ctx.js, ingestMessage(sid, "dup-2", 1)),
      publishIngest(ctx.js, ingestMessage(sid, "dup-2", 1), { msgID: "dup-2-again" }),
      publishIngest(ctx.js, ingestMessage(sid, "dup-3", 2)),
    ]);
    await waitFor(async () => (await ctx.jsm.streams.info(INGEST_STREAM)).state.messages === 0, {
      what: "INGEST drained",
    });
    expect(await readHead(ctx.redis, sid)).toBe(2);
    await expectNumbered(sid, 3);
    await a.stop();
  });

  it("continues contiguous numbering after a crash, with nothing lost or doubled", async () => {
    const sid = "crash-stream";
    const total = 600;
    const a = await startInstance("seq-crash-a");
    const publishRange = async (from: number, to: number) => {
      for (let k = from; k < to; k += 50) {
        const chunk: Promise<unknown>[] = [];
        for (let j = k; j < Math.min(to, k + 50); j++)
          chunk.push(publishIngest(ctx.js, ingestMessage(sid, `c-${j}`, j)));
        await Promise.all(chunk);
      }
    };
    const publishing = publishRange(0, 400);
    await waitFor(async () => (await readHead(ctx.redis, sid)) >= 50, { what: "part numbered" });
    await a.crash();
    await publishing;
    const numberedByA = await readHead(ctx.redis, sid);
    expect(numberedByA).toBeLessThan(total - 1);
    await publishRange(400, total);
    const b = await startInstance("seq-crash-b");
    await waitFor(async () => (await readHead(ctx.redis, sid)) === total - 1, {
      timeoutMs: 20_000,
      what: "all numbered after restart",
    });
    await waitFor(async () => (await ctx.jsm.streams.info(INGEST_STREAM)).state.messages === 0, {
      what: "INGEST drained",
    });
    await expectNumbered(sid, total);
    expect(new Set((await events(sid)).map((e) => e.data.id)).size).toBe(total);
    await b.stop();
  });

  it("numbers nothing more of a halted stream, keeps its messages, and lets other streams flow", async () => {
    const a = await startInstance("seq-halt");
    const halted = "halt-stream";
    const live = streamOnSamePartition("halt-live", halted);
    await publishIngest(ctx.js, ingestMessage(halted, "h-0", 0));
    await waitFor(async () => (await readHead(ctx.redis, halted)) === 0, { what: "first event" });
    await ctx.redis.hset(streamKeys(halted).status, { status: "halted", reason: "test", ingest_id: "h-1" });
    for (let k = 1; k <= 3; k++) await publishIngest(ctx.js, ingestMessage(halted, `h-${k}`, k));
    for (let k = 0; k < 20; k++) await publishIngest(ctx.js, ingestMessage(live, `l-${k}`, k));
    await waitFor(async () => (await readHead(ctx.redis, live)) === 19, { what: "live stream numbered" });
    // Kept in Redis, in order, and acked in INGEST: no redelivery loop.
    await waitFor(async () => (await ctx.redis.llen(streamKeys(halted).held)) === 3, { what: "held" });
    await waitFor(async () => (await ctx.jsm.streams.info(INGEST_STREAM)).state.messages === 0, {
      what: "INGEST drained",
    });
    expect(await readHead(ctx.redis, halted)).toBe(0);
    await expectNumbered(live, 20);

    // Nothing was lost: once the halt is resolved the kept messages are numbered, once each, in order.
    await resolveHalt(ctx.redis, halted, { action: "retry" });
    await waitFor(async () => (await readHead(ctx.redis, halted)) === 3, { what: "halted resumed" });
    await expectNumbered(halted, 4);
    await a.stop();
  });

  it("halts a stream on an INGEST message that cannot be numbered, keeping the message", async () => {
    const a = await startInstance("seq-poison");
    const sid = "poison-stream";
    await publishIngest(ctx.js, ingestMessage(sid, "p-0", 0));
    await publishIngest(ctx.js, { stream_id: sid, ingest_id: "p-bad", raw: "{not json" });
    await publishIngest(ctx.js, ingestMessage(sid, "p-2", 1));
    await waitFor(async () => (await ctx.redis.llen(streamKeys(sid).held)) === 2, { what: "held" });
    expect(await ctx.redis.hgetall(streamKeys(sid).status)).toMatchObject({
      status: "halted",
      ingest_id: "p-bad",
      reason: "the INGEST message is not JSON",
    });
    expect(await readHead(ctx.redis, sid)).toBe(0);
    const halt = await readHalt(ctx.redis, sid);
    expect(halt).toMatchObject({ ingest_id: "p-bad", held: 2, event: { event_type: "unreadable" } });
    // Skipping the unreadable one parks it and numbers what followed.
    await resolveHalt(ctx.redis, sid, { action: "skip", ingest_id: "p-bad" });
    await waitFor(async () => (await readHead(ctx.redis, sid)) === 1, { what: "resumed" });
    await expectNumbered(sid, 2);
    expect((await readParked(ctx.redis, sid)).map((p) => p.ingest_id)).toEqual(["p-bad"]);
    await a.stop();
  });

  it("serves /healthz, /readyz and /metrics", async () => {
    const metrics = createMetricsRegistry("sequencer");
    const app = await buildApp({ log, metrics, nc: ctx.nc, redis: ctx.redis });
    expect((await app.inject({ url: "/healthz" })).statusCode).toBe(200);
    const ready = await app.inject({ url: "/readyz" });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({ checks: { nats: "ok", redis: "ok" } });
    expect((await app.inject({ url: "/metrics" })).body).toContain("heliograph_");
    await app.close();
  });
});
