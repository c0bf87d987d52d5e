import { DEFAULT_PARTITION_COUNT, INGEST_STREAM } from "@heliograph/contracts";
import { createLogger } from "@heliograph/platform";
import {
  assertPartitionCount,
  PartitionCountMismatchError,
  partitionCountKey,
  partitionLeaseKey,
  readHead,
} from "@heliograph/store";
import { waitFor } from "@heliograph/testkit";
import { describe, expect, it } from "vitest";
import { ingestMessage, publishIngest } from "../test/ingest-fixture.js";
import { useSequencerServers } from "../test/sequencer-fixture.js";

const log = createLogger({ name: "sequencer-test", level: process.env.TEST_LOG_LEVEL ?? "fatal" });
const OTHER = DEFAULT_PARTITION_COUNT / 2;

describe("changing PARTITIONS", () => {
  // Servers of its own: it records another partition count than every other test uses.
  const { ctx, start } = useSequencerServers(log, { ownServers: true });
  const ingestMessages = async () => (await ctx.jsm.streams.info(INGEST_STREAM)).state.messages;

  it("is refused while INGEST holds messages or a sequencer of the old count runs, and taken once drained", async () => {
    const first = await start("count-a");
    expect(await ctx.redis.get(partitionCountKey)).toBe(String(DEFAULT_PARTITION_COUNT));
    await first.stop();
    // Published under the recorded layout while no sequencer runs: a sequencer with another count must not start.
    for (let k = 0; k < 3; k++) await publishIngest(ctx.js, ingestMessage("count-stream", `count-${k}`, k));
    expect(await ingestMessages()).toBe(3);
    const refused = await start("count-b", { PARTITIONS: OTHER }).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(PartitionCountMismatchError);
    expect((refused as Error).message).toContain(
      `PARTITIONS is ${OTHER} but INGEST is laid out with ${DEFAULT_PARTITION_COUNT}`,
    );
    expect((refused as Error).message).toContain("INGEST holds 3 messages");

    // The old count drains INGEST; while it holds its leases the change is still refused.
    const draining = await start("count-c");
    await waitFor(async () => (await readHead(ctx.redis, "count-stream")) === 2, { what: "INGEST numbered" });
    await waitFor(async () => (await ingestMessages()) === 0, { what: "INGEST drained" });
    await expect(start("count-d", { PARTITIONS: OTHER })).rejects.toThrow(/partition leases are still held/);
    await draining.stop();
    expect(await ctx.redis.exists(partitionLeaseKey(0))).toBe(0);

    // Drained, every sequencer stopped: the new count is taken and recorded.
    const moved = await start("count-e", { PARTITIONS: OTHER });
    expect(moved.sequencer.ownedPartitions()).toHaveLength(OTHER);
    expect(await ctx.redis.get(partitionCountKey)).toBe(String(OTHER));
    // An ingest gateway still on the old count is refused at start; one on the new count starts.
    await expect(assertPartitionCount(ctx.redis, DEFAULT_PARTITION_COUNT)).rejects.toBeInstanceOf(
      PartitionCountMismatchError,
    );
    await assertPartitionCount(ctx.redis, OTHER);
    await moved.stop();
  });
});
