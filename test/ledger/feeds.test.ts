import { describe, expect, it } from "vitest";
import { compareFeeds, type StreamRead, splitJsonArray } from "./feeds.js";

const S = "algorithm-1";
const text = (n: number, symbol = `m${n}`, type = "TradingSignalCreated") =>
  `{"event_number":${n},"event_type":"${type}","data":{"id":"id${n}","ticker_symbol":"${symbol}"}}`;
const read = (texts: string[]): StreamRead => ({ events: texts.map((t) => JSON.parse(t)), texts });

describe("compareFeeds", () => {
  it("accepts identical streams", () => {
    const texts = [text(0), text(1), text(2)];
    const result = compareFeeds({ [S]: read(texts) }, { [S]: read([...texts]) });
    expect(result.differences).toEqual([]);
    expect(result.compared).toEqual({ [S]: 3 });
  });

  it("names a stream one side lacks, and a count that differs", () => {
    const result = compareFeeds({ [S]: read([text(0), text(1)]), other: read([]) }, { [S]: read([text(0)]) });
    expect(result.differences).toContainEqual({ kind: "missing-stream", streamId: "other", missingFrom: "events" });
    expect(result.differences).toContainEqual({ kind: "length", streamId: S, http: 2, events: 1 });
    expect(result.describe()).toContain("LENGTH: algorithm-1 has 2 events over HTTP but 1 in EVENTS");
  });

  it("names the first field that differs: number, type, data", () => {
    const result = compareFeeds(
      { [S]: read([text(0), text(1), text(2)]) },
      { [S]: read([text(5), text(1, "m1", "IdeaOpened"), text(2, "changed")]) },
    );
    expect(result.differences.map((d) => (d.kind === "event" ? [d.position, d.field] : d.kind))).toEqual([
      [0, "event_number"],
      [1, "event_type"],
      [2, "data"],
    ]);
  });

  it("refuses equal values in different bytes (key order, spacing)", () => {
    const reordered = `{"event_type":"TradingSignalCreated","event_number":0,"data":{"ticker_symbol":"m0","id":"id0"}}`;
    const spaced = text(1).replace(":", ": ");
    const result = compareFeeds({ [S]: read([text(0), text(1)]) }, { [S]: read([reordered, spaced]) });
    expect(result.differences.map((d) => (d.kind === "event" ? [d.position, d.field] : d.kind))).toEqual([
      [0, "text"],
      [1, "text"],
    ]);
  });
});

describe("splitJsonArray", () => {
  it("returns each element's text as it stands, through strings holding brackets, commas and escapes", () => {
    const a = `{"a":"x,]}\\"[{","b":[1,{"c":2}]}`;
    const b = `{"d":null}`;
    expect(splitJsonArray(`[${a},${b}]`)).toEqual([a, b]);
    expect(splitJsonArray(`[ ${a} ,\n ${b} ]`)).toEqual([a, b]);
    expect(splitJsonArray("[]")).toEqual([]);
    expect(splitJsonArray(`[${b}]`)).toEqual([b]);
  });
});
