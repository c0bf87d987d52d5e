import { waitFor } from "@heliograph/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FaultWindow, faultSeen } from "../ledger/fault-window.js";
import { followStream } from "../ledger/read-stream.js";
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
    const followers = loads.map((l) =>
      followStream({
        streamUrl: stack.services["stream-gateway"].url,
        token: stack.subscriber.token,
        streamId: l.streamId,
        longPollSeconds: 1,
      }),
    );
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

    const { http, events, feeds, reads } = await stack.finish(loads, { drainTimeoutMs: 20_000 });
    expect(http.violations, http.describe()).toEqual([]);
    expect(events.violations, `EVENTS feed:\n${events.describe()}`).toEqual([]);
    expect(feeds.differences, `HTTP against EVENTS:\n${feeds.describe()}`).toEqual([]);
    // The clients ran into each outage and retried through it.
    for (const [i, l] of loads.entries()) {
      for (const [round, outage] of (outages[i] ?? []).entries()) {
        const seen = faultSeen(l.records, outage);
        expect(seen.failedAttempts, `${l.streamId}, round ${round}: ${JSON.stringify(seen)}`).toBeGreaterThan(0);
      }
    }
    for (const [i, follower] of followers.entries()) {
      const streamId = loads[i]?.streamId as string;
      const head = (http.summary.events[streamId] ?? 0) - 1;
      await follower.waitForEvent(head, 10_000);
      await follower.stop();
      expect(follower.breaks, `${streamId}: follower jumped`).toEqual([]);
      expect(follower.events.map((e) => e.event_number)).toEqual(Array.from({ length: head + 1 }, (_, n) => n));
      // What it followed is what a fresh read serves.
      expect(follower.events).toEqual(reads.http[streamId]?.events);
      for (const failure of follower.failures) expect(failure).not.toMatch(/^5(?!03)/);
    }
  }, 150_000);
});
