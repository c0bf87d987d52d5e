import { describe, expect, it } from "vitest";
import { DEFAULT_PARTITION_COUNT, partitionOf } from "./partition.js";
import { STREAM_ID_PATTERN } from "./stream-id.js";
import { eventMsgId, eventsSubject, ingestSubject, streamIdOfSubject } from "./subjects.js";

describe("partitionOf", () => {
  // With a count of 2^32 the modulo leaves the hash itself, so the published FNV-1a vectors apply.
  const hashOf = (id: string) => partitionOf(id, 2 ** 32);

  it("is FNV-1a (32 bit) of the UTF-8 bytes: the published test vectors", () => {
    expect(hashOf("")).toBe(0x811c9dc5);
    expect(hashOf("a")).toBe(0xe40c292c);
    expect(hashOf("foobar")).toBe(0xbf9cf968);
    // Two UTF-8 bytes (0xc3 0xa9), not one UTF-16 unit.
    expect(hashOf("é")).toBe(0x1e9de8c1);
  });

  it("is stable: known stream ids keep their partitions (downstream services depend on them)", () => {
    // Values computed once, outside this code (Python), for 8 partitions (the default until
    // issue 11) and for the default 32.
    const known: [string, number, number][] = [
      ["resource-1", 3, 27],
      ["resource-2", 6, 14],
      ["algorithm-1", 4, 28],
      ["algorithm-42", 3, 3],
      ["ideas-a-ideas", 4, 12],
      ["ideas-eu_desk", 0, 16],
    ];
    expect(DEFAULT_PARTITION_COUNT).toBe(32);
    for (const [id, of8, of32] of known) {
      expect(partitionOf(id, 8), id).toBe(of8);
      expect(partitionOf(id), id).toBe(of32);
      expect(partitionOf(id, DEFAULT_PARTITION_COUNT), id).toBe(of32);
    }
    expect(hashOf("resource-1")).toBe(0xf048acbb);
    expect(partitionOf("resource-1", 1_000)).toBe(0xf048acbb % 1_000);
  });

  it("is an integer in [0, count) for every count", () => {
    for (const count of [1, 2, 3, 7, 8, 64, 1_000, 2 ** 31 - 1]) {
      for (let i = 0; i < 500; i++) {
        const p = partitionOf(`algorithm-${i}`, count);
        expect(Number.isInteger(p) && p >= 0 && p < count, `algorithm-${i} over ${count}: ${p}`).toBe(true);
      }
    }
    expect(partitionOf("anything", 1)).toBe(0);
  });

  it("spreads stream ids evenly over the partitions", () => {
    const counts = new Array<number>(DEFAULT_PARTITION_COUNT).fill(0);
    const ids = 8_000;
    for (let i = 0; i < ids; i++) {
      const kind = ["resource", "algorithm", "ideas"][i % 3];
      counts[partitionOf(`${kind}-${i}`)]! += 1;
    }
    const fair = ids / DEFAULT_PARTITION_COUNT;
    // A fair hash keeps every partition within a few percent of its share; 15% is far outside noise.
    for (const count of counts) expect(Math.abs(count - fair) / fair, String(counts)).toBeLessThan(0.15);
  });

  it("refuses a bad count", () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => partitionOf("x", bad)).toThrow(RangeError);
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
