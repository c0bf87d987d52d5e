import { describe, expect, it } from "vitest";
import { checkRecordOrder, describeRecordProblem, describeRecordProblems } from "./events-record.js";
import type { StreamRead } from "./feeds.js";

const S = "algorithm-1";
const feed = (numbers: number[]): Record<string, StreamRead> => {
  const texts = numbers.map((n) => `{"event_number":${n},"data":{}}`);
  return { [S]: { events: texts.map((t) => JSON.parse(t)), texts } };
};

describe("checkRecordOrder", () => {
  it("accepts 0..n in order, and an empty subject", () => {
    expect(checkRecordOrder(feed([0, 1, 2, 3]))).toEqual([]);
    expect(checkRecordOrder(feed([]))).toEqual([]);
  });

  it("names a redelivery republished after the duplicate window: n again after n+1", () => {
    const problems = checkRecordOrder(feed([0, 1, 2, 1, 2, 3]));
    expect(problems).toContainEqual({ kind: "duplicate", streamId: S, eventNumber: 1, positions: [1, 3] });
    expect(problems).toContainEqual({ kind: "duplicate", streamId: S, eventNumber: 2, positions: [2, 4] });
    expect(problems).toContainEqual({ kind: "out-of-order", streamId: S, position: 3, eventNumber: 1, previous: 2 });
    expect(problems.map(describeRecordProblem)).toContain(
      "DUPLICATE: events.algorithm-1 holds event 1 2 times (positions 1, 3)",
    );
  });

  it("names a retried publish stored after the next one: a reorder, no duplicate", () => {
    expect(checkRecordOrder(feed([0, 2, 1, 3]))).toEqual([
      { kind: "out-of-order", streamId: S, position: 1, eventNumber: 2, previous: 0 },
      { kind: "out-of-order", streamId: S, position: 2, eventNumber: 1, previous: 2 },
      { kind: "out-of-order", streamId: S, position: 3, eventNumber: 3, previous: 1 },
    ]);
  });

  it("names numbers missing below the highest", () => {
    expect(checkRecordOrder(feed([0, 1, 4]))).toContainEqual({ kind: "gap", streamId: S, missing: [2, 3] });
  });
});

describe("describeRecordProblems", () => {
  it("gives a batch stored again one line", () => {
    const lines = describeRecordProblems(checkRecordOrder(feed([0, 1, 2, 3, 1, 2, 3, 4])));
    expect(lines).toEqual([
      "OUT OF ORDER: events.algorithm-1 position 4 holds event 1, after 3",
      "DUPLICATE: events.algorithm-1 holds each of events 1..3 2 times (event 1 at positions 1, 4)",
    ]);
  });
});
