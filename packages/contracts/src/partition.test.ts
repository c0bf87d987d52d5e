import { describe, expect, it } from "vitest";
import { partitionOf } from "./partition.js";
import { STREAM_ID_PATTERN } from "./stream-id.js";
import { eventMsgId, eventsSubject, ingestSubject, streamIdOfSubject } from "./subjects.js";

describe("partitionOf", () => {
  it("is stable: known values never change (downstream services depend on them)", () => {
    // FNV-1a 32-bit reference values.
    expect(partitionOf("", 1 << 30)).toBe(0x811c9dc5 % (1 << 30));
    expect(partitionOf("a", 0x7fffffff)).toBe(0xe40c292c % 0x7fffffff);
    expect(partitionOf("resource-1", 8)).toBe(partitionOf("resource-1", 8));
  });

  it("spreads stream ids over every partition", () => {
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) seen.add(partitionOf(`resource-${i}`, 8));
    expect(seen.size).toBe(8);
  });

  it("refuses a bad count", () => {
    expect(() => partitionOf("x", 0)).toThrow(RangeError);
  });
});

describe("subjects", () => {
  it("round-trips the stream id", () => {
    expect(streamIdOfSubject(eventsSubject("resource-1"))).toBe("resource-1");
    expect(streamIdOfSubject(ingestSubject(3, "ideas-eu_desk"))).toBe("ideas-eu_desk");
    expect(eventMsgId("algorithm-1", 7)).toBe("algorithm-1:7");
  });

  it("stream ids are safe subject tokens and path segments", () => {
    for (const ok of ["resource-1", "ideas-eu_desk", "a"]) expect(STREAM_ID_PATTERN.test(ok)).toBe(true);
    for (const bad of ["", "A", "a.b", "a/b", "a*", "a>", "-a", "a b", "x".repeat(65)])
      expect(STREAM_ID_PATTERN.test(bad)).toBe(false);
  });
});
