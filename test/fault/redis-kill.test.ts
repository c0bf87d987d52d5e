import { waitFor } from "@heliograph/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FaultWindow } from "../ledger/fault-window.js";
import {
  expectEventsRecordInOrder,
  expectEveryFaultFelt,
  expectFollowersCaughtUp,
  expectRecordIntact,
  followLoads,
} from "./fault-checks.js";
import { type FaultStack, startFaultStack } from "./fault-stack.js";
import { isClear503, probePublish, REDIS_OUTAGE_ANSWER_MS, waitForReady } from "./probe.js";

// Promise 1 when redis-server (AOF, fsync every second) is killed with -9 under load, twice. A
// process kill loses no acknowledged write: Redis write()s the AOF before it replies, and the
// kernel keeps what was written; only a machine crash can lose the last second, and EVENTS is the
// record then (redis-restart covers the graceful stop). So the restarted Redis must carry on
// exactly: no number given twice, none skipped, nothing accepted lost.
let stack: FaultStack;
beforeAll(async () => {
  stack = await startFaultStack({ algorithms: 3 });
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

describe("kill -9 of redis-server under publish load", () => {
  // Each wait below is bounded; together at most about 125 s, inside the 150 s.
  it("loses, doubles and renumbers nothing; a long-polling follower sees each number once", async () => {
    const loads = stack.startLoads(40, [1, 2]);
    const followers = followLoads(stack, loads, { longPollSeconds: 1 });
    await Promise.all(loads.map((l) => l.waitForMoreAccepted(40, 15_000)));

    const outages: FaultWindow[][] = loads.map(() => []);
    for (let round = 0; round < 2; round++) {
      const from = loads.map((l) => l.clock());
      await stack.redis.kill("SIGKILL");
      // While Redis is gone, a publish (algorithm 3, not in the ledger) fails clearly and fast.
      const probe = await probePublish(
        stack.services["ingest-gateway"].url,
        stack.publisher,
        3,
        `probe-redis-killed-${round}`,
      );
      expect(isClear503(probe), JSON.stringify(probe)).toBe(true);
      expect(probe.ms, JSON.stringify(probe)).toBeLessThan(REDIS_OUTAGE_ANSWER_MS);
      await waitFor(() => loads.every((l) => (l.records.at(-1)?.attempts.length ?? 0) >= 2), {
        timeoutMs: 5_000,
        what: "every client to have retried a publish",
      });
      // Same port, same folder: Redis loads its AOF.
      await stack.redis.restart();
      for (const [i, l] of loads.entries()) outages[i]?.push({ from: from[i] as number, to: l.clock() });
      await Promise.all(loads.map((l) => l.waitForMoreAccepted(40, 15_000)));
    }
    await waitForReady(stack.services, 10_000);

    const readBack = await stack.finish(loads, { drainTimeoutMs: 20_000 });
    expectRecordIntact(readBack);
    // The clients ran into each outage and retried through it.
    expectEveryFaultFelt(loads, outages);
    // Each follower saw every number once, with what a fresh read serves.
    await expectFollowersCaughtUp(followers, loads, readBack, 10_000);
    for (const follower of followers) for (const failure of follower.failures) expect(failure).not.toMatch(/^5(?!03)/);
    // Downstream readers of EVENTS see each number once, in order, and what HTTP serves.
    await expectEventsRecordInOrder(stack);
  }, 150_000);
});
