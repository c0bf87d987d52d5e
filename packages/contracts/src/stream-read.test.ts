import { describe, expect, it } from "vitest";
import { parseBatchSize, parseEventNumber, parseLongPollSeconds } from "./stream-read.js";

describe("stream read parameters", () => {
  it("event_number: -1 is the start; anything else below, fractional or huge is refused", () => {
    expect(parseEventNumber("-1")).toBe(-1);
    expect(parseEventNumber("0")).toBe(0);
    expect(parseEventNumber("123")).toBe(123);
    for (const bad of ["-2", "1.5", "abc", "", "1e3", "99999999999999999999", " 1", "0x10"]) {
      expect(parseEventNumber(bad), bad).toBeUndefined();
    }
  });

  it("batch_size: at least 1, capped at 1000", () => {
    expect(parseBatchSize("1")).toBe(1);
    expect(parseBatchSize("1000")).toBe(1000);
    expect(parseBatchSize("5000")).toBe(1000);
    for (const bad of ["0", "-1", "x", "1.5", ""]) expect(parseBatchSize(bad), bad).toBeUndefined();
  });

  it("X-Long-Poll: seconds from 0 to 60, default 5", () => {
    expect(parseLongPollSeconds(undefined)).toBe(5);
    expect(parseLongPollSeconds("10")).toBe(10);
    expect(parseLongPollSeconds("0.25")).toBe(0.25);
    expect(parseLongPollSeconds("0")).toBe(0);
    for (const bad of ["-1", "61", "abc", "1e3", "", ["1", "2"]])
      expect(parseLongPollSeconds(bad), String(bad)).toBeUndefined();
  });
});
