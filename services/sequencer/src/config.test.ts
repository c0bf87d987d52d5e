import { DEFAULT_PARTITION_COUNT } from "@heliograph/contracts";
import { ConfigError } from "@heliograph/platform";
import { describe, expect, it } from "vitest";
import { loadSequencerConfig } from "./config.js";

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
});
