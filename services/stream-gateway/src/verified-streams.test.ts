import { eventText } from "@heliograph/contracts";
import { describe, expect, it } from "vitest";
import { eventNumberOfBytes } from "./hub.js";
import { VerifiedStreams } from "./verified-streams.js";

const streams = (maxStreams = 100) => new VerifiedStreams({ maxStreams, askIntervalMs: 1_000 });

/** A read as the stream source makes it: begin, Redis answers `redisHead`, EVENTS said `recordedLast`. */
function readOnce(vs: VerifiedStreams, sid: string, redisHead: number, recordedLast: number) {
  const check = vs.begin(sid);
  return vs.settle(check, redisHead, check.verified ? undefined : recordedLast);
}

describe("VerifiedStreams", () => {
  it("trusts Redis for a stream once its head is at or past EVENTS' last event (ahead is normal)", () => {
    const vs = streams();
    expect(vs.begin("s").verified).toBe(false);
    expect(readOnce(vs, "s", 9, 9)).toBe("current");
    expect(vs.begin("s").verified).toBe(true);
    expect(readOnce(streams(), "s", 10, 9)).toBe("current");
    expect(readOnce(streams(), "empty", -1, -1)).toBe("current");
  });

  it("finds Redis behind when its head is below EVENTS' last event, and keeps comparing until it caught up", () => {
    const vs = streams();
    expect(readOnce(vs, "s", 4, 9)).toBe("behind");
    expect(vs.begin("s").verified).toBe(false);
    expect(readOnce(vs, "s", 8, 9)).toBe("behind");
    expect(readOnce(vs, "s", 9, 9)).toBe("current");
    expect(vs.begin("s").verified).toBe(true);
  });

  it("a new Redis generation (reconnect) makes every stream compare with EVENTS again", () => {
    const vs = streams();
    readOnce(vs, "a", 5, 5);
    readOnce(vs, "b", 7, 7);
    vs.newGeneration();
    expect(vs.begin("a").verified).toBe(false);
    expect(vs.begin("b").verified).toBe(false);
    // A Redis restored from an older snapshot: behind.
    expect(readOnce(vs, "a", 2, 5)).toBe("behind");
  });

  it("a read whose Redis connection changed while it ran is unsure, and verifies nothing", () => {
    const vs = streams();
    const check = vs.begin("s");
    vs.newGeneration();
    expect(vs.settle(check, 9, 9)).toBe("unsure");
    expect(vs.begin("s").verified).toBe(false);
  });

  it("a verified stream whose Redis head goes below one it answered before is behind (FLUSHALL)", () => {
    const vs = streams();
    expect(readOnce(vs, "s", 29, 29)).toBe("current");
    expect(readOnce(vs, "s", 30, 0)).toBe("current");
    expect(readOnce(vs, "s", -1, 0)).toBe("behind");
    expect(vs.begin("s").verified).toBe(false);
  });

  it("a verified stream whose Redis head is below an event the hub saw in EVENTS is behind", () => {
    const vs = streams();
    readOnce(vs, "s", 3, 3);
    vs.noteRecorded("s", 7);
    expect(vs.begin("s").floor).toBe(7);
    expect(readOnce(vs, "s", 6, 0)).toBe("behind");
  });

  it("only what was known when a read began counts against it", () => {
    const vs = streams();
    readOnce(vs, "s", 3, 3);
    const check = vs.begin("s");
    // Event 4 reached EVENTS (and so Redis) after the read's Redis command was sent.
    vs.noteRecorded("s", 4);
    expect(vs.settle(check, 3)).toBe("current");
  });

  it("EVENTS vouching for a head forgets a higher one Redis lost before the sequencer published it", () => {
    const vs = streams();
    readOnce(vs, "s", 10, 9);
    // Redis lost event 10, which EVENTS never got: behind by the floor, then verified again.
    expect(readOnce(vs, "s", 9, 0)).toBe("behind");
    expect(readOnce(vs, "s", 9, 9)).toBe("current");
    expect(readOnce(vs, "s", 9, 0)).toBe("current");
  });

  it("knows a stream's head without I/O only while verified, at the last event EVENTS showed, with Redis no further", () => {
    const vs = streams();
    expect(vs.atRecordedHead("s", 4)).toBe(false);
    expect(readOnce(vs, "s", 4, 4)).toBe("current");
    expect(vs.atRecordedHead("s", 4)).toBe(true);
    expect(vs.atRecordedHead("s", 3)).toBe(false);
    // The hub saw event 5: a reader at 4 has something to read, one at 5 does not.
    vs.noteRecorded("s", 5);
    expect(vs.atRecordedHead("s", 4)).toBe(false);
    expect(vs.atRecordedHead("s", 5)).toBe(true);
    // Redis answered head 6, which EVENTS has not shown yet: a read at 5 would find event 6.
    readOnce(vs, "s", 6, 5);
    expect(vs.atRecordedHead("s", 5)).toBe(false);
    vs.noteRecorded("s", 6);
    expect(vs.atRecordedHead("s", 6)).toBe(true);
    // A reconnect: nothing is known until the stream is verified again.
    vs.newGeneration();
    expect(vs.atRecordedHead("s", 6)).toBe(false);
    // Behind: never.
    const behind = streams();
    expect(readOnce(behind, "b", 2, 5)).toBe("behind");
    expect(behind.atRecordedHead("b", 5)).toBe(false);
    expect(behind.atRecordedHead("b", 2)).toBe(false);
  });

  it("the hub's numbers are kept only for streams read here", () => {
    const vs = streams();
    vs.noteRecorded("never-read", 5);
    expect(vs.size).toBe(0);
    expect(vs.begin("never-read").floor).toBe(-1);
  });

  it("remembers at most maxStreams, forgetting the least recently read", () => {
    const vs = streams(3);
    for (const sid of ["a", "b", "c"]) readOnce(vs, sid, 1, 1);
    readOnce(vs, "a", 1, 1);
    readOnce(vs, "d", 1, 1);
    expect(vs.size).toBe(3);
    expect(vs.begin("b").verified).toBe(false);
    for (const sid of ["a", "c", "d"]) expect(vs.begin(sid).verified).toBe(true);
  });

  it("asks for verification of a stream at most once per interval", () => {
    const vs = streams();
    readOnce(vs, "s", 1, 5);
    expect(vs.shouldAsk("s", 10_000)).toBe(true);
    expect(vs.shouldAsk("s", 10_500)).toBe(false);
    expect(vs.shouldAsk("s", 11_000)).toBe(true);
    expect(vs.shouldAsk("unknown", 11_000)).toBe(false);
  });
});

describe("eventNumberOfBytes", () => {
  const bytes = (text: string) => new TextEncoder().encode(text);

  it("reads the number the sequencer writes first, without decoding the rest", () => {
    expect(eventNumberOfBytes(bytes(eventText(0, '"event_type":"IdeaOpened","data":{}}')))).toBe(0);
    expect(eventNumberOfBytes(bytes(eventText(123_456, '"event_type":"IdeaOpened"}')))).toBe(123_456);
  });

  it("is undefined for anything else", () => {
    expect(eventNumberOfBytes(bytes('{ "event_number": 7 }'))).toBeUndefined();
    expect(eventNumberOfBytes(bytes('{"event_number":,"x":1}'))).toBeUndefined();
    expect(eventNumberOfBytes(bytes('{"event_number":-1,"x":1}'))).toBeUndefined();
    expect(eventNumberOfBytes(bytes('{"event_number":12'))).toBeUndefined();
    expect(eventNumberOfBytes(bytes("{"))).toBeUndefined();
    expect(eventNumberOfBytes(bytes(`{"event_number":${"9".repeat(20)},"x":1}`))).toBeUndefined();
  });
});
