import { describe, expect, it } from "vitest";
import { type Attempt, checkLedger, compactRanges, type LedgerEvent, type PublishRecord } from "./ledger.js";

const S = "algorithm-1";
const T = "algorithm-2";

const ok = (t: number, id: string, status = 202): Attempt => ({
  startedAt: t - 1,
  endedAt: t,
  status,
  body: { status: "accepted", ingest_id: id, stream_id: S, id },
});
const unavailable = (t: number): Attempt => ({
  startedAt: t - 1,
  endedAt: t,
  status: 503,
  body: { error: { code: "INGEST_UNAVAILABLE", message: "retry", details: [] } },
});
const timeout = (t: number): Attempt => ({ startedAt: t - 1, endedAt: t, error: "timeout" });

/** Publish k of a client: key `k<k>`, marker `m<k>`, id `id<k>`, first 2xx at time 10k. */
function publish(k: number, attempts: Attempt[] = [ok(10 * k, `id${k}`)], streamId = S): PublishRecord {
  const accepted = attempts.find((a) => a.status !== undefined && a.status < 300);
  return { key: `k${k}`, streamId, marker: `m${k}`, clientSeq: k, attempts, acceptedAt: accepted?.endedAt };
}
const event = (n: number, k: number): LedgerEvent => ({
  event_number: n,
  data: { id: `id${k}`, ticker_symbol: `m${k}`, timestamp: "t", published_at: "t" },
});
/** Stream whose event i carries publish order[i]. */
const stream = (order: number[]): LedgerEvent[] => order.map((k, n) => event(n, k));

describe("checkLedger", () => {
  it("accepts a clean run, with retries, timeouts and a given-up publish that was never stored", () => {
    const publishes = [
      publish(0),
      publish(1, [timeout(9), unavailable(10), ok(11, "id1")]),
      publish(2, [ok(20, "id2"), ok(21, "id2")]),
      publish(3, [timeout(30), timeout(31)]),
      publish(4),
    ];
    const report = checkLedger({ publishes, streams: { [S]: stream([0, 1, 2, 4]) } });
    expect(report.violations).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.summary).toMatchObject({ publishes: 5, accepted: 4, unresolved: 1, unresolvedStored: 0 });
    expect(report.summary.outcomes).toEqual({ "202": 5, "503": 1, timeout: 3 });
  });

  it("allows a given-up publish to be stored once, anywhere", () => {
    const publishes = [publish(0), publish(1, [timeout(10)]), publish(2)];
    const report = checkLedger({ publishes, streams: { [S]: stream([0, 2, 1]) } });
    expect(report.violations).toEqual([]);
    expect(report.summary.unresolvedStored).toBe(1);
  });

  it("names a lost publish by its key", () => {
    const report = checkLedger({ publishes: [publish(0), publish(1), publish(2)], streams: { [S]: stream([0, 2]) } });
    expect(report.violations).toEqual([{ kind: "lost", key: "k1", streamId: S }]);
    expect(report.describe()).toContain("LOST: key k1 was answered 2xx but no event in algorithm-1 carries it");
  });

  it("names a doubled publish with both of its numbers, for accepted and given-up ones", () => {
    const publishes = [publish(0), publish(1, [timeout(10), unavailable(11)]), publish(2)];
    const report = checkLedger({ publishes, streams: { [S]: stream([0, 1, 1, 2, 0]) } });
    expect(report.violations).toContainEqual({ kind: "duplicated", key: "k0", streamId: S, eventNumbers: [0, 4] });
    expect(report.violations).toContainEqual({ kind: "duplicated", key: "k1", streamId: S, eventNumbers: [1, 2] });
    expect(report.ok).toBe(false);
  });

  it("names missing numbers, repeated numbers and unsorted reads", () => {
    const events = [event(0, 0), event(2, 1), event(2, 2), event(1, 3), event(6, 4)];
    const publishes = [0, 1, 2, 3, 4].map((k) => publish(k));
    const report = checkLedger({ publishes, streams: { [S]: events } });
    expect(report.violations).toContainEqual({ kind: "gap", streamId: S, missing: [3, 4, 5] });
    expect(report.violations).toContainEqual({ kind: "repeated-number", streamId: S, eventNumber: 2, count: 2 });
    expect(report.violations).toContainEqual({
      kind: "unsorted",
      streamId: S,
      position: 2,
      eventNumber: 2,
      previous: 2,
    });
    expect(report.violations).toContainEqual({
      kind: "unsorted",
      streamId: S,
      position: 3,
      eventNumber: 1,
      previous: 2,
    });
    expect(report.describe()).toContain("GAP: algorithm-1 has no event number 3..5");
  });

  it("finds events out of the order of first acceptance, per stream", () => {
    const publishes = [publish(0), publish(1), publish(2), publish(3, undefined, T), publish(4, undefined, T)];
    const report = checkLedger({
      publishes,
      streams: { [S]: stream([0, 2, 1]), [T]: [event(0, 3), event(1, 4)] },
    });
    expect(report.violations).toEqual([
      { kind: "reordered", streamId: S, key: "k2", eventNumber: 1, acceptedBefore: { key: "k1", eventNumber: 2 } },
    ]);
    expect(report.describe()).toContain(
      "REORDERED: in algorithm-1, key k2 is event 1 but key k1, accepted before it, is event 2",
    );
  });

  it("orders by the first 2xx, not by when the client started a publish", () => {
    // k1 was issued before k2, but (say, two clients on one stream) k2 was accepted first.
    const publishes = [publish(1, [timeout(5), ok(30, "id1")]), publish(2, [ok(20, "id2")])];
    const report = checkLedger({ publishes, streams: { [S]: stream([2, 1]) } });
    expect(report.violations).toEqual([]);
  });

  it("refuses events nobody published, events in another stream and a wrong data.id", () => {
    // Publish 1 goes to T, publish 2 to S; publish 2's only event is found in T.
    const publishes = [publish(0), publish(1, undefined, T), publish(2)];
    const stranger: LedgerEvent = { event_number: 1, data: { id: "x", ticker_symbol: "nobody" } };
    const wrongId: LedgerEvent = { event_number: 0, data: { id: "other", ticker_symbol: "m1" } };
    const misplaced = event(1, 2);
    const report = checkLedger({ publishes, streams: { [S]: [event(0, 0), stranger], [T]: [wrongId, misplaced] } });
    expect(report.violations).toContainEqual({ kind: "unknown-event", streamId: S, eventNumber: 1, marker: "nobody" });
    expect(report.violations).toContainEqual({
      kind: "wrong-stream",
      key: "k2",
      expected: S,
      actual: T,
      eventNumber: 1,
    });
    expect(report.violations).toContainEqual({
      kind: "id-mismatch",
      key: "k1",
      eventNumber: 0,
      answerId: "id1",
      eventId: "other",
    });
    expect(report.violations.map((v) => v.kind).sort()).toEqual(["id-mismatch", "unknown-event", "wrong-stream"]);
    expect(report.ok).toBe(false);
  });

  it("notices retries answered with different ids, and answers that are not a retryable error", () => {
    const publishes = [
      publish(0, [ok(1, "id0"), ok(2, "another")]),
      publish(1, [
        { startedAt: 3, endedAt: 4, status: 500, body: { error: { code: "INTERNAL", message: "x", details: [] } } },
        ok(11, "id1"),
      ]),
      publish(2, [{ startedAt: 5, endedAt: 6, status: 503, body: "Service Unavailable" }, ok(21, "id2")]),
    ];
    const report = checkLedger({ publishes, streams: { [S]: stream([0, 1, 2]) } });
    expect(report.violations.map((v) => v.kind).sort()).toEqual([
      "answers-differ",
      "unexpected-answer",
      "unexpected-answer",
    ]);
    expect(report.describe()).toContain("UNEXPECTED ANSWER: key k1 attempt 0 got 500");
  });

  it("reports a stream that was published to but not read", () => {
    const report = checkLedger({ publishes: [publish(0)], streams: {} });
    expect(report.violations).toContainEqual({ kind: "missing-stream", streamId: S });
  });

  it("writes number ranges compactly", () => {
    expect(compactRanges([9, 3, 4, 5, 11, 12])).toBe("3..5, 9, 11..12");
    expect(compactRanges([])).toBe("");
  });
});
