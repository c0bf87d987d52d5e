import { waitFor } from "@heliograph/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  expectEventsRecordInOrder,
  expectEveryFaultFelt,
  expectFollowersCaughtUp,
  expectRecordIntact,
  followLoads,
} from "./fault-checks.js";
import { type FaultStack, startFaultStack } from "./fault-stack.js";
import { isClear503, probePublish, REDIS_OUTAGE_ANSWER_MS, waitForReady } from "./probe.js";

// A stalled Redis (SIGSTOP: connections stay open, nothing answers) for five seconds: longer than
// a request may take to fail (REDIS_OUTAGE_ANSWER_MS), so one held for the whole stall is caught.
// Requests fail with a clear 503 or wait; nothing is lost or doubled; the services recover alone.
let stack: FaultStack;
beforeAll(async () => {
  stack = await startFaultStack({ algorithms: 3 });
}, 60_000);
afterAll(async () => {
  const pid = stack?.redis.process?.pid;
  // Never leave it stopped, whatever happened.
  if (pid) process.kill(pid, "SIGCONT");
  await stack?.stop();
});

describe("redis-server stalls (SIGSTOP for 5 s, then SIGCONT) under publish load", () => {
  it("answers 503 or waits, loses and doubles nothing, and recovers by itself", async () => {
    const pid = stack.redis.process?.pid;
    if (!pid) throw new Error("needs its own redis-server");
    const loads = stack.startLoads(40, [1, 2]);
    const followers = followLoads(stack, loads, { longPollSeconds: 1 });
    await Promise.all(loads.map((l) => l.waitForMoreAccepted(40)));

    // ManagedProcess.kill waits for the exit: a stopped process never exits, so signal the pid.
    const stallStart = loads.map((l) => l.clock());
    process.kill(pid, "SIGSTOP");
    const stalledAt = performance.now();
    // A publish during the stall (algorithm 3, not in the ledger) waits or fails clearly: never a 500.
    const probe = probePublish(stack.services["ingest-gateway"].url, stack.publisher, 3, "probe-redis-stalled");
    await waitFor(() => performance.now() - stalledAt >= 5_000, { timeoutMs: 6_000, intervalMs: 50 });
    process.kill(pid, "SIGCONT");
    const stalls = loads.map((l, i) => ({ from: stallStart[i] as number, to: l.clock() }));
    const answer = await probe;
    expect(answer.status === 202 || isClear503(answer), JSON.stringify(answer)).toBe(true);
    // Answered within Redis's command timeout plus a margin, not held for the whole stall.
    expect(answer.ms, JSON.stringify(answer)).toBeLessThan(REDIS_OUTAGE_ANSWER_MS);

    await Promise.all(loads.map((l) => l.waitForMoreAccepted(40, 20_000)));
    await waitForReady(stack.services, 10_000);

    const readBack = await stack.finish(loads);
    expectRecordIntact(readBack);
    // Every publishing client felt the stall: attempts during it failed (503 or the client's
    // timeout) and were retried with the same key.
    expectEveryFaultFelt(
      loads,
      stalls.map((stall) => [stall]),
    );
    await expectFollowersCaughtUp(followers, loads, readBack, 10_000);
    // Errors the followers saw, if any, were 503s with the error body, never a 500.
    for (const follower of followers) for (const failure of follower.failures) expect(failure).not.toMatch(/^5(?!03)/);
    // Downstream readers of EVENTS see each number once, in order, and what HTTP serves.
    await expectEventsRecordInOrder(stack);
  }, 60_000);
});
