import { describe, expect, it } from "vitest";
import { EventType, IngestMessage, isIdeaEventType, readIngestMessage } from "./events.js";
import { IdeaEventType } from "./ideas.js";

const valid = {
  ingest_id: "ing_1",
  stream_id: "algorithm-7",
  publisher_id: "pub-1",
  event_type: "TradingSignalCreated",
  data: { id: "s1", timestamp: "2026-01-01T00:00:00Z", extra: [1, 2] },
  received_at: "2026-01-01T00:00:00.000Z",
};

// Every field replaced by every kind of wrong value (and removed), plus data's own fields, plus
// whole values that are not objects: the hand-written check must agree with the schema on each.
const wrongValues: unknown[] = [undefined, null, 0, 1.5, true, "", "x", "Algorithm 7!", [], ["a"], {}, { id: 1 }];
function* variants(): Generator<unknown> {
  yield valid;
  yield { ...valid, unknown_field: 1 };
  for (const type of [...EventType.options, "TradingSignalDeleted"]) yield { ...valid, event_type: type };
  for (const field of Object.keys(valid)) {
    for (const wrong of wrongValues) yield { ...valid, [field]: wrong };
    const { [field as keyof typeof valid]: _, ...without } = valid;
    yield without;
  }
  for (const field of ["id", "timestamp"]) {
    for (const wrong of wrongValues) yield { ...valid, data: { ...valid.data, [field]: wrong } };
    const { [field as "id"]: _, ...without } = valid.data;
    yield { ...valid, data: without };
  }
  for (const streamId of ["a", "a".repeat(64), "a".repeat(65), "-a", "A", "a.b", "a_b-c"])
    yield { ...valid, stream_id: streamId };
  yield* [null, undefined, 1, "text", [], [valid]];
}

describe("readIngestMessage", () => {
  it("accepts exactly what the IngestMessage schema accepts", () => {
    let checked = 0;
    for (const value of variants()) {
      const fast = readIngestMessage(value);
      const schema = IngestMessage.safeParse(value);
      expect({ value, accepted: "message" in fast }).toEqual({ value, accepted: schema.success });
      checked++;
    }
    expect(checked).toBeGreaterThan(100);
  });

  it("names the field it refuses", () => {
    expect(readIngestMessage({ ...valid, data: { id: "s1" } })).toEqual({ problem: "data.timestamp must be a string" });
    expect(readIngestMessage({ ...valid, stream_id: "Bad Id" })).toEqual({ problem: "stream_id is not a stream id" });
  });

  it("answers the message itself, data's extra fields kept", () => {
    const read = readIngestMessage(valid);
    expect("message" in read && read.message).toBe(valid);
  });
});

describe("isIdeaEventType", () => {
  it("is true for an idea's event types and no other", () => {
    for (const type of EventType.options) expect(isIdeaEventType(type)).toBe(IdeaEventType.safeParse(type).success);
    expect(isIdeaEventType("IdeaDeleted")).toBe(false);
  });
});
