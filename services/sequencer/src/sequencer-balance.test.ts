import { DEFAULT_PARTITION_COUNT, INGEST_STREAM } from "@heliograph/contracts";
import { createLogger } from "@heliograph/platform";
import { partitionEpochKey, readHead, sequencerInstancesKey } from "@heliograph/store";
import { pacedLoop, waitFor } from "@heliograph/testkit";
import { describe, expect, it } from "vitest";
import { ingestMessage, publishIngest, streamsOnDistinctPartitions } from "../test/ingest-fixture.js";
import { useSequencerServers } from "../test/sequencer-fixture.js";

const log = createLogger({ name: "sequencer-test", level: process.env.TEST_LOG_LEVEL ?? "error" });
// The default TTL: an instance starved of its event loop for most of a TTL (tests share two cores)
// drops out of the live count and makes the shares move twice.
const LEASE_TTL_MS = 2_000;
const HALF = DEFAULT_PARTITION_COUNT / 2;

describe("partition balancing between sequencer instances", () => {
  const { ctx, start, expectExactlyOnceInOrder } = useSequencerServers(log, { leaseTtlMs: LEASE_TTL_MS });
  const epochs = () =>
    Promise.all(
      [...Array(DEFAULT_PARTITION_COUNT).keys()].map(async (p) => Number(await ctx.redis.get(partitionEpochKey(p)))),
    );

  it("shares the partitions half and half with a newcomer under load, in order, and takes them all back when it stops", async () => {
    // Two streams on each of eight partitions, so handovers move streams that are being written.
    const streams = [...streamsOnDistinctPartitions("bal-a", 8), ...streamsOnDistinctPartitions("bal-b", 8)];
    let sent = 0;
    const publish = async (upTo: number) => {
      for (; sent < upTo; sent++) {
        const k = sent;
        await Promise.all(streams.map((sid) => publishIngest(ctx.js, ingestMessage(sid, `${sid}-${k}`, k))));
      }
    };
    const load = pacedLoop(10, () => publish(sent + 5));
    let again: ReturnType<typeof pacedLoop> | undefined;

    try {
      const a = await start("bal-a");
      expect(a.sequencer.ownedPartitions()).toHaveLength(DEFAULT_PARTITION_COUNT);
      await waitFor(() => sent >= 50, { what: "load under way" });

      const b = await start("bal-b");
      expect(await ctx.redis.zcard(sequencerInstancesKey)).toBe(2);
      await waitFor(
        () => a.sequencer.ownedPartitions().length === HALF && b.sequencer.ownedPartitions().length === HALF,
        { what: "half of the partitions each", timeoutMs: 10 * LEASE_TTL_MS },
      );
      // The highest-numbered partitions moved, once each.
      expect(a.sequencer.ownedPartitions()).toEqual([...Array(HALF).keys()]);
      expect(b.sequencer.ownedPartitions()).toEqual([...Array(HALF).keys()].map((p) => p + HALF));

      // Keep the load going for a few more lease TTLs: the shares must hold still meanwhile.
      const [settledAt, settledTime] = [sent, Date.now()];
      await waitFor(() => sent >= settledAt + 100 && Date.now() - settledTime >= 3 * LEASE_TTL_MS, {
        what: "more load after balancing",
        timeoutMs: 30_000,
      });
      await load.stop();
      expect(await epochs()).toEqual([...Array(DEFAULT_PARTITION_COUNT).keys()].map((p) => (p < HALF ? 1 : 2)));
      await waitFor(
        async () => (await Promise.all(streams.map((s) => readHead(ctx.redis, s)))).every((h) => h === sent - 1),
        {
          what: "every stream numbered",
          timeoutMs: 15_000,
        },
      );
      for (const sid of streams) await expectExactlyOnceInOrder(sid, sent);

      // A graceful stop: the other instance's share grows at once and it takes every partition.
      again = pacedLoop(10, () => publish(sent + 5));
      await b.stop();
      await waitFor(() => a.sequencer.ownedPartitions().length === DEFAULT_PARTITION_COUNT, {
        what: "a owns every partition again",
        timeoutMs: 4 * LEASE_TTL_MS,
      });
      await again.stop();
      await waitFor(
        async () => (await Promise.all(streams.map((s) => readHead(ctx.redis, s)))).every((h) => h === sent - 1),
        {
          what: "every stream numbered after the stop",
          timeoutMs: 15_000,
        },
      );
      for (const sid of streams) await expectExactlyOnceInOrder(sid, sent);
      await waitFor(async () => (await ctx.jsm.streams.info(INGEST_STREAM)).state.messages === 0, {
        what: "INGEST drained",
      });
    } finally {
      await load.stop();
      await again?.stop();
    }
  });
});
