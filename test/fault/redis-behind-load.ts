/**
 * One run of "Redis comes back behind under publish load" (issue 9): retrying clients publish into
 * two streams, long-polling followers read them, and each round Redis is made to forget (restarted
 * from an older snapshot, flushed, or restarted empty). Then the ledger check, the followers' check
 * (no number ever names two different events) and the EVENTS check.
 */

import { openRedisSnapshot } from "@heliograph/testkit";
import { expect } from "vitest";
import {
  expectEventsRecordInOrder,
  expectFollowersCaughtUp,
  expectRecordIntact,
  followLoads,
  waitForMoreAccepted,
} from "./fault-checks.js";
import type { FaultStack } from "./fault-stack.js";
import { waitForReady } from "./probe.js";

/** Fault rounds: fewer on CI's slower machines, never none. */
export const REDIS_FAULT_ROUNDS = process.env.CI === "true" ? 1 : 2;

export interface RedisForgets {
  /** Before Redis acknowledges the writes it will forget (where a snapshot is taken). */
  before?(round: number): Promise<void>;
  /** Makes Redis forget; resolves once it answers again. */
  strike(round: number): Promise<void>;
  /** Once the services are ready again, before publishing goes on (probes). */
  after?(round: number): Promise<void>;
}

export async function runRedisForgetsUnderLoad(stack: FaultStack, fault: RedisForgets, rounds = REDIS_FAULT_ROUNDS) {
  const loads = stack.startLoads(40, [1, 2]);
  const followers = followLoads(stack, loads, { longPollSeconds: 1 });
  await waitForMoreAccepted(loads, 40);

  for (let round = 0; round < rounds; round++) {
    await fault.before?.(round);
    await waitForMoreAccepted(loads, 40);
    // The fault is real: a write Redis acknowledged just before it is gone after it. A key of the
    // test's own, so no repair from EVENTS can bring it back and hide the fault.
    const canary = `hg-test:canary:${round}`;
    expect(await stack.redis.cli(["SET", canary, "acknowledged"])).toEqual(["OK"]);
    await fault.strike(round);
    expect(await stack.redis.cli(["EXISTS", canary]), `${canary} survived the fault`).toEqual(["0"]);
    await waitForReady(stack.services, 20_000);
    await fault.after?.(round);
    await waitForMoreAccepted(loads, 40, 30_000);
  }

  const readBack = await stack.finish(loads, { drainTimeoutMs: 30_000 });
  expectRecordIntact(readBack);
  // Each follower read before and after every fault: it holds each number once, with what a full
  // read now serves under that number.
  await expectFollowersCaughtUp(followers, loads, readBack, 15_000);
  await expectEventsRecordInOrder(stack);
  return readBack;
}

/** Heads of the streams as a snapshot holds them (read from a throwaway copy). */
export async function headsInSnapshot(snapshot: string, streamIds: string[]): Promise<number[]> {
  const copy = await openRedisSnapshot(snapshot);
  try {
    return await Promise.all(streamIds.map((id) => copy.streamHead(id)));
  } finally {
    await copy.stop();
  }
}
