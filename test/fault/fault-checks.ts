/**
 * What every fault test asserts once its fault is over: the record is intact, the clients really
 * ran into the fault, and a long-polling follower saw each number once.
 */
import { connect } from "@nats-io/transport-node";
import { expect } from "vitest";
import { checkEventsRecord, type EventsRecordReport } from "../ledger/events-record.js";
import { type FaultWindow, faultSeen } from "../ledger/fault-window.js";
import type { SignalLoad } from "../ledger/load.js";
import type { ReadBackReport } from "../ledger/read-back.js";
import { type Follower, followStream } from "../ledger/read-stream.js";
import type { FaultStack } from "./fault-stack.js";

/** The ledger holds over HTTP and over EVENTS, and both serve the same events, byte for byte. */
export function expectRecordIntact({ http, events, feeds, serviceLog }: ReadBackReport): void {
  const said = (streamIds: string[]) => (serviceLog ? `\nwhat the services said:\n${serviceLog(streamIds)}` : "");
  const streamsOf = (items: object[]) => [
    ...new Set(
      items.flatMap((item) => ("streamId" in item && typeof item.streamId === "string" ? [item.streamId] : [])),
    ),
  ];
  expect(http.violations, `${http.describe()}${said(streamsOf(http.violations))}`).toEqual([]);
  expect(events.violations, `EVENTS feed:\n${events.describe()}${said(streamsOf(events.violations))}`).toEqual([]);
  expect(feeds.differences, `HTTP against EVENTS:\n${feeds.describe()}${said(streamsOf(feeds.differences))}`).toEqual(
    [],
  );
}

/**
 * Each client ran into each of its fault windows (`windows[i]` for `loads[i]`): attempts made in
 * it failed and were retried with the same key. A fault test that never shows this proves nothing.
 */
export function expectEveryFaultFelt(loads: SignalLoad[], windows: FaultWindow[][]): void {
  for (const [i, load] of loads.entries()) {
    for (const [round, window] of (windows[i] ?? []).entries()) {
      const seen = faultSeen(load.records, window);
      expect(seen.failedAttempts, `${load.streamId}, fault ${round}: ${JSON.stringify(seen)}`).toBeGreaterThan(0);
    }
  }
}

/** A long-polling follower per load's stream, started now. */
export function followLoads(
  stack: FaultStack,
  loads: SignalLoad[],
  options: { longPollSeconds: number; batchSize?: number },
): Follower[] {
  return loads.map((load) =>
    followStream({
      streamUrl: stack.services["stream-gateway"].url,
      token: stack.subscriber.token,
      streamId: load.streamId,
      ...options,
    }),
  );
}

/**
 * Each follower reaches its stream's head (as the HTTP read-back found it), never jumped, and
 * holds every number once, in order, and the same events as a fresh read; then it is stopped.
 */
export async function expectFollowersCaughtUp(
  followers: Follower[],
  loads: SignalLoad[],
  readBack: ReadBackReport,
  timeoutMs: number,
): Promise<void> {
  for (const [i, follower] of followers.entries()) {
    const streamId = loads[i]?.streamId as string;
    const head = (readBack.http.summary.events[streamId] ?? 0) - 1;
    await follower.waitForEvent(head, timeoutMs);
    await follower.stop();
    expect(follower.breaks, `${streamId}: follower jumped`).toEqual([]);
    expect(follower.events.map((e) => e.event_number)).toEqual(Array.from({ length: head + 1 }, (_, n) => n));
    expect(follower.events).toEqual(readBack.reads.http[streamId]?.events);
  }
}

/**
 * EVENTS read by a plain JetStream consumer, as a downstream service reads it: every
 * `events.<stream_id>` subject holds 0..n in JetStream order, each once, and the same events, byte
 * for byte, as a full HTTP read of the stream (promise 2). `soft` reports and goes on.
 */
export async function expectEventsRecordInOrder(
  stack: FaultStack,
  options: { soft?: boolean } = {},
): Promise<EventsRecordReport> {
  const nc = await connect({ ...stack.natsConnectOptions(), maxReconnectAttempts: -1 });
  try {
    const report = await checkEventsRecord({
      nc,
      streamUrl: stack.services["stream-gateway"].url,
      token: stack.subscriber.token,
      streamIds: stack.algorithmIds.map((id) => `algorithm-${id}`),
    });
    // The description names the problems; a diff of the whole list would bury them.
    (options.soft ? expect.soft : expect)(report.problems.length, `EVENTS record:\n${report.describe()}`).toBe(0);
    return report;
  } finally {
    await nc.close();
  }
}

/**
 * Waits until each load has `n` more publishes answered 2xx; on timeout says what each client was
 * answered last (a 401 after Redis lost the tenants reads differently from a 503 outage).
 */
export async function waitForMoreAccepted(loads: SignalLoad[], n: number, timeoutMs = 20_000): Promise<void> {
  try {
    await Promise.all(loads.map((l) => l.waitForMoreAccepted(n, timeoutMs)));
  } catch (err) {
    throw new Error(`${(err as Error).message}\nlast answers:\n${describeLastAnswers(loads)}`);
  }
}

/** Per load: its last three attempts' outcomes, with the error body when there was one. */
export function describeLastAnswers(loads: SignalLoad[]): string {
  return loads
    .map((load) => {
      const attempts = load.records.flatMap((r) => r.attempts).slice(-3);
      const said = attempts.map((a) =>
        a.status === undefined ? (a.error ?? "no answer") : `${a.status} ${JSON.stringify(a.body)?.slice(0, 200)}`,
      );
      return `${load.streamId} (${load.accepted()} accepted): ${said.join(" | ")}`;
    })
    .join("\n");
}
