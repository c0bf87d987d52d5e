import { DEFAULT_PARTITION_COUNT, newAdminToken, PUBLISHED_ADMIN_TOKENS } from "@heliograph/contracts";
import { ConfigError, loadConfig } from "@heliograph/platform";
import { describe, expect, it } from "vitest";
import { IngestEnv } from "./config.js";

const TOKEN = newAdminToken();

describe("IngestEnv", () => {
  it("has the documented defaults", () => {
    expect(loadConfig(IngestEnv, { ADMIN_TOKEN: TOKEN })).toMatchObject({
      HOST: "127.0.0.1",
      PORT: 8080,
      ADMIN_TOKEN: TOKEN,
      ADMIN_HOST: "127.0.0.1",
      ADMIN_PORT: 8090,
      PARTITIONS: DEFAULT_PARTITION_COUNT,
      IDEMPOTENCY_TTL_SECONDS: 86_400,
      APPLIED_TTL_SECONDS: 86_400,
      PUBLISH_TIMEOUT_MS: 5_000,
      CONTROL_PLANE_CACHE_MS: 60_000,
      NATS_URL: "nats://127.0.0.1:4222",
      JETSTREAM_REPLICAS: 1,
      JETSTREAM_DUPLICATE_WINDOW_MS: 600_000,
      HTTP_HEADERS_TIMEOUT_MS: 10_000,
      HTTP_REQUEST_TIMEOUT_MS: 30_000,
      HTTP_KEEP_ALIVE_TIMEOUT_MS: 72_000,
      MAX_CONNECTIONS: 60_000,
    });
  });

  it("reads numbers from the environment", () => {
    const config = loadConfig(IngestEnv, {
      ADMIN_TOKEN: TOKEN,
      PORT: "9000",
      PARTITIONS: "16",
      PUBLISH_TIMEOUT_MS: "250",
    });
    expect(config).toMatchObject({ PORT: 9000, PARTITIONS: 16, PUBLISH_TIMEOUT_MS: 250 });
  });

  it("names every bad variable at once", () => {
    const load = () => loadConfig(IngestEnv, { ADMIN_TOKEN: "short", PARTITIONS: "0", PORT: "eighty" });
    expect(load).toThrow(ConfigError);
    try {
      load();
    } catch (err) {
      expect((err as ConfigError).problems.map((p) => p.variable).sort()).toEqual([
        "ADMIN_TOKEN",
        "PARTITIONS",
        "PORT",
      ]);
    }
  });

  it("requires ADMIN_TOKEN", () => {
    expect(() => loadConfig(IngestEnv, {})).toThrow(/ADMIN_TOKEN/);
  });

  // Each of these would start a gateway whose admin token anyone can read or guess.
  it.each([
    ["the old compose placeholder", "replace-with-a-long-random-token"],
    ["the old Kubernetes placeholder", "REPLACE_WITH_hga_AND_64_HEX_CHARACTERS"],
    ["an empty value (the compose example now)", ""],
    ["sixteen characters", "0123456789abcdef"],
    ["a generated token cut short", newAdminToken().slice(0, -1)],
    ["a generated token with a character too many", `${newAdminToken()}x`],
  ])("refuses %s as ADMIN_TOKEN", (_what, token) => {
    expect(() => loadConfig(IngestEnv, { ADMIN_TOKEN: token })).toThrow(/ADMIN_TOKEN: must be a generated token/);
  });

  it("refuses every well-formed token printed in the repository", () => {
    expect(PUBLISHED_ADMIN_TOKENS.size).toBeGreaterThan(0);
    for (const token of PUBLISHED_ADMIN_TOKENS)
      expect(() => loadConfig(IngestEnv, { ADMIN_TOKEN: token })).toThrow(/ADMIN_TOKEN: is an example published/);
  });
});
