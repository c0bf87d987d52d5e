import { DEFAULT_PARTITION_COUNT, INGEST_STREAM } from "@heliograph/contracts";
import { createLogger } from "@heliograph/platform";
import { partitionLeaseKey, readHead } from "@heliograph/store";
import { pacedLoop, waitFor } from "@heliograph/testkit";
import { describe, expect, it } from "vitest";
import { ingestMessage, publishIngest } from "../test/ingest-fixture.js";
import { type SequencerInstance, useSequencerServers } from "../test/sequencer-fixture.js";

const log = createLogger({ name: "sequencer-test", level: process.env.TEST_LOG_LEVEL ?? "error" });
const LEASE_TTL_MS = 800;
const ALL_PARTITIONS = [...Array(DEFAULT_PARTITION_COUNT).keys()];

describe("two sequencer instances", () => {
  const { ctx, start, expectExactlyOnceInOrder } = useSequencerServers(log, { leaseTtlMs: LEASE_TTL_MS });

  it("never both number one stream, even when leases are taken over under load, and one takes over from a crashed other", async () => {
    const [a, b] = await Promise.all([start("seq-a"), start("seq-b")]);
    await waitFor(
      () => {
        const owned = [...a.sequencer.ownedPartitions(), ...b.sequencer.ownedPartitions()].sort((x, y) => x - y);
        return owned.length === DEFAULT_PARTITION_COUNT && owned.every((p, i) => p === i);
      },
      { what: "every partition owned exactly once" },
    );
    // Started together, they share the partitions evenly.
    await waitFor(
      () =>
        a.sequencer.ownedPartitions().length === DEFAULT_PARTITION_COUNT / 2 &&
        b.sequencer.ownedPartitions().length === DEFAULT_PARTITION_COUNT / 2,
      { what: "half of the partitions each", timeoutMs: 10 * LEASE_TTL_MS },
    );

    const streams = Array.from({ length: 16 }, (_, i) => `lease-${i}`);
    const perStream = 300;
    const heads = () => Promise.all(streams.map((s) => readHead(ctx.redis, s)));
    // Chaos: leases vanish as if they expired while their owner still runs (a paused process), so
    // partitions change hands mid-load; the epoch fence must keep every stream in order.
    let takeovers = 0;
    const chaos = pacedLoop(100, async () => {
      const victim = ALL_PARTITIONS[Math.floor(Math.random() * ALL_PARTITIONS.length)]!;
      takeovers += await ctx.redis.del(partitionLeaseKey(victim));
    });
    for (let k = 0; k < perStream; k += 10) {
      const chunk: Promise<unknown>[] = [];
      for (let j = k; j < k + 10; j++)
        for (const sid of streams) chunk.push(publishIngest(ctx.js, ingestMessage(sid, `${sid}-${j}`, j)));
      await Promise.all(chunk);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    try {
      await waitFor(async () => (await heads()).every((h) => h === perStream - 1), {
        what: "every stream numbered under chaos",
        timeoutMs: 25_000,
      });
    } finally {
      await chaos.stop();
    }
    expect(takeovers).toBeGreaterThan(5);
    const numberedBy = async (instance: SequencerInstance) =>
      Number(
        (await instance.metrics.getSingleMetricAsString("heliograph_sequencer_events_total")).match(/ (\d+)$/m)?.[1],
      );
    const [byA, byB] = [await numberedBy(a), await numberedBy(b)];
    expect(byA).toBeGreaterThan(0);
    expect(byB).toBeGreaterThan(0);
    expect(byA + byB).toBe(streams.length * perStream);
    for (const sid of streams) await expectExactlyOnceInOrder(sid, perStream);

    // The crash of one instance: the other takes its partitions within a few lease TTLs.
    await waitFor(() => a.sequencer.ownedPartitions().length > 0, { what: "a owns a partition", timeoutMs: 5_000 });
    await a.crash();
    // A lease lapses after one TTL and the survivor looks every TTL/4: a takeover within a few TTLs
    // is the lease protocol's own bound (with room for a loaded machine); failover speed is bench's.
    await waitFor(() => b.sequencer.ownedPartitions().length === DEFAULT_PARTITION_COUNT, {
      what: "b owns every partition",
      timeoutMs: 6 * LEASE_TTL_MS,
    });
    const more = 30;
    const chunk: Promise<unknown>[] = [];
    for (let j = perStream; j < perStream + more; j++)
      for (const sid of streams) chunk.push(publishIngest(ctx.js, ingestMessage(sid, `${sid}-${j}`, j)));
    await Promise.all(chunk);
    await waitFor(
      async () =>
        (await Promise.all(streams.map((s) => readHead(ctx.redis, s)))).every((h) => h === perStream + more - 1),
      { what: "b numbered the rest", timeoutMs: 15_000 },
    );
    for (const sid of streams) await expectExactlyOnceInOrder(sid, perStream + more);
    await waitFor(async () => (await ctx.jsm.streams.info(INGEST_STREAM)).state.messages === 0, {
      what: "INGEST drained",
    });
  });
});
