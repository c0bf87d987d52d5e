import { readHead } from "@heliograph/store";
import { waitFor } from "@heliograph/testkit";
import { describe, expect, it } from "vitest";
import { expectEventsRecordInOrder, expectRecordIntact, waitForMoreAccepted } from "./fault-checks.js";
import { useSequencerFaultStack, waitForBalance } from "./sequencer-ownership.js";

// Issue 11 item 5: the partitions are shared by whichever sequencer instances run, as three of
// them leave (SIGTERM, kill -9) and join again under publish load; nothing is lost, doubled or
// reordered, and every stream keeps being numbered in every line-up.
const ctx = useSequencerFaultStack({ algorithms: 8, sequencers: 3 });

describe("three sequencer instances leaving and joining under publish load", () => {
  it("share the partitions in every line-up and lose, double and reorder nothing", async () => {
    const { stack, redis } = ctx;
    const loads = stack.startLoads(20);
    const streams = loads.map((l) => l.streamId);
    const running = () => stack.instances.sequencer.filter((h) => h.running());
    /** The running instances hold every partition, each its share, and every stream is numbered again. */
    const settle = async (instances: number, what: string) => {
      expect(running(), what).toHaveLength(instances);
      const owners = await waitForBalance(redis, running());
      expect(new Set(owners).size, `${what}: every running instance holds partitions`).toBe(instances);
      const heads = await Promise.all(streams.map((s) => readHead(redis, s)));
      await waitFor(
        async () => (await Promise.all(streams.map((s) => readHead(redis, s)))).every((h, i) => h > heads[i]!),
        {
          timeoutMs: 10_000,
          what: `${what}: every stream numbered`,
        },
      );
      await waitForMoreAccepted(loads, 10);
    };

    await settle(3, "three started");
    await stack.instances.sequencer[2]?.stop(10_000);
    await settle(2, "one stopped");
    await stack.instances.sequencer[1]?.stop(10_000);
    await settle(1, "two stopped");
    await Promise.all([stack.restart("sequencer", 1), stack.restart("sequencer", 2)]);
    await settle(3, "two joined");
    await stack.killHard("sequencer", 0);
    await settle(2, "one killed");
    await stack.restart("sequencer", 0);
    await settle(3, "it joined again");

    const readBack = await stack.finish(loads);
    expectRecordIntact(readBack);
    expect(readBack.http.summary.accepted).toBeGreaterThan(200);
    await expectEventsRecordInOrder(stack);
  }, 180_000);
});
