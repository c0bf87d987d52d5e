import { LEASE_FREED_SUBJECT, LeaseFreedNotice } from "@heliograph/contracts";
import { describe, expect, it } from "vitest";
import { expectEventsRecordInOrder, expectRecordIntact, waitForMoreAccepted } from "./fault-checks.js";
import { partitionOfStream, useSequencerFaultStack, waitForBalance, watchNumbering } from "./sequencer-ownership.js";

// Issue 11 item 4: a graceful stop (SIGTERM) hands its partitions over at once: from the owner's
// release (its lease-freed notice) to the other instance numbering every one of its streams ≤ 0.5 s
// in every round, and from the SIGTERM itself ≤ 0.5 s in the median round.
// The other instance is woken by the notice, not by its lease tick (every 500 ms at the default TTL).
const ROUNDS = 3;
const HANDOVER_MS = 500;
const ctx = useSequencerFaultStack({ algorithms: 6, sequencers: 2 });

describe("SIGTERM of a sequencer, one of two, under publish load", () => {
  it(`hands its partitions over: every one of its streams numbers on the other within ${HANDOVER_MS} ms of the release`, async () => {
    const { stack, redis, nc } = ctx;
    const numbering = watchNumbering(nc);
    const freed: { at: number; partitions: number[] }[] = [];
    // Same connection as the numbering watch: the stopping instance's last numbering notices are
    // heard before its release notice, so whatever is heard after it is the other instance's.
    const freedSub = nc.subscribe(LEASE_FREED_SUBJECT, {
      callback: (err, msg) => {
        if (err) return;
        const notice = LeaseFreedNotice.safeParse(msg.json());
        if (notice.success) freed.push({ at: performance.now(), partitions: notice.data.partitions });
      },
    });
    const loads = stack.startLoads(25);
    await waitForMoreAccepted(loads, 10);
    const streams = loads.map((l) => l.streamId);
    const handovers: number[] = [];
    const fromSigterm: number[] = [];
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const owners = await waitForBalance(redis, stack.instances.sequencer);
        const victim = owners[partitionOfStream(streams[0] as string)] as number;
        const affected = streams.filter((s) => owners[partitionOfStream(s)] === victim);
        const ownedByVictim = owners.flatMap((o, p) => (o === victim ? [p] : []));
        const before = freed.length;

        const stopping = stack.instances.sequencer[victim]!;
        const sigtermAt = performance.now();
        await stopping.stop(10_000);
        expect(await stopping.exited()).toBe(0);
        const release = freed.slice(before).find((f) => f.partitions.length === ownedByVictim.length);
        expect(
          release?.partitions.sort((a, b) => a - b),
          `the stopped instance released all it held; notices: ${JSON.stringify(freed.slice(before))}\n${stopping.output().slice(-3_000)}`,
        ).toEqual(ownedByVictim);
        const resumedAt = await Promise.all(
          affected.map((s) => numbering.numberedAfter(s, release?.at as number, 10_000)),
        );
        handovers.push(Math.max(...resumedAt) - (release?.at as number));
        fromSigterm.push(Math.max(...resumedAt) - sigtermAt);
        await stack.restart("sequencer", victim);
      }
    } finally {
      freedSub.unsubscribe();
      numbering.stop();
    }
    const times = handovers.map(Math.round);
    console.log(
      `handover after SIGTERM, ms from release to numbering per round: ${times.join(", ")}; from SIGTERM: ${fromSigterm.map(Math.round).join(", ")}`,
    );
    for (const ms of times) expect(ms, `handover times (ms): ${times.join(", ")}`).toBeLessThanOrEqual(HANDOVER_MS);
    // As an operator sees it, from the SIGTERM: the stopping instance finishes its batch in flight
    // and releases, so this adds tens of ms; the median of the rounds keeps the bound.
    const sorted = fromSigterm.map(Math.round).sort((a, b) => a - b);
    expect(sorted[Math.floor(sorted.length / 2)], `from SIGTERM (ms): ${sorted.join(", ")}`).toBeLessThanOrEqual(
      HANDOVER_MS,
    );

    const readBack = await stack.finish(loads);
    expectRecordIntact(readBack);
    await expectEventsRecordInOrder(stack);
  }, 180_000);
});
