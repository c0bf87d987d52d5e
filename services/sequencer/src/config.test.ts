import { DEFAULT_PARTITION_COUNT } from "@heliograph/contracts";
import { ConfigError } from "@heliograph/platform";
import { describe, expect, it } from "vitest";
import { loadSequencerConfig } from "./config.js";
import { hotWindowOf } from "./hot-window.js";

describe("sequencer config", () => {
  it("has defaults for every variable", () => {
    const config = loadSequencerConfig({});
    expect(config).toMatchObject({
      PORT: 8082,
      HOST: "127.0.0.1",
      PARTITIONS: DEFAULT_PARTITION_COUNT,
      LEASE_TTL_MS: 2_000,
      BATCH_MAX: 500,
      APPLIED_TTL_SECONDS: 86_400,
      JETSTREAM_REPLICAS: 1,
      JETSTREAM_DUPLICATE_WINDOW_MS: 600_000,
      HOT_WINDOW_EVENTS: 10_000,
      HOT_WINDOW_SIGNAL_EVENTS: 1_000,
      HOT_WINDOW_IDEA_EVENTS: 100_000,
      EVENTS_MAX_AGE_SECONDS: 0,
      EVENTS_MAX_MSGS_PER_SUBJECT: 0,
    });
    expect(config.SEQUENCER_ID).toMatch(/-\d+$/);
  });

  it("names every bad variable", () => {
    try {
      loadSequencerConfig({ PARTITIONS: "0", BATCH_MAX: "many" });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).problems.map((p) => p.variable).sort()).toEqual(["BATCH_MAX", "PARTITIONS"]);
    }
  });

  it("refuses a hot window below ten (the most recent ten come from Redis) and a bad EVENTS cap, naming them", () => {
    try {
      loadSequencerConfig({
        HOT_WINDOW_SIGNAL_EVENTS: "9",
        HOT_WINDOW_IDEA_EVENTS: "-1",
        EVENTS_MAX_MSGS_PER_SUBJECT: "x",
      });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).problems.map((p) => p.variable).sort()).toEqual([
        "EVENTS_MAX_MSGS_PER_SUBJECT",
        "HOT_WINDOW_IDEA_EVENTS",
        "HOT_WINDOW_SIGNAL_EVENTS",
      ]);
    }
  });

  it("gives each stream kind its window", () => {
    const config = loadSequencerConfig({
      HOT_WINDOW_EVENTS: "50",
      HOT_WINDOW_SIGNAL_EVENTS: "20",
      HOT_WINDOW_IDEA_EVENTS: "30",
    });
    expect(hotWindowOf("algorithm-7", config)).toBe(20);
    expect(hotWindowOf("ideas-demo", config)).toBe(30);
    expect(hotWindowOf("resource-1", config)).toBe(50);
    expect(hotWindowOf("anything-else", config)).toBe(50);
  });
});
