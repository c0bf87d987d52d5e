import { ConfigError, loadConfig } from "@heliograph/platform";
import { describe, expect, it } from "vitest";
import { StreamGatewayEnv } from "./config.js";

describe("stream-gateway config", () => {
  it("has the documented defaults", () => {
    expect(loadConfig(StreamGatewayEnv, {})).toMatchObject({
      HOST: "127.0.0.1",
      PORT: 8081,
      MAX_WAITERS: 50_000,
      CONTROL_PLANE_CACHE_MS: 60_000,
      PARTITIONS: 32,
      VERIFIED_STREAMS_MAX: 100_000,
      HTTP_HEADERS_TIMEOUT_MS: 10_000,
      HTTP_REQUEST_TIMEOUT_MS: 30_000,
      MAX_CONNECTIONS: 60_000,
      MAX_RESPONSE_BYTES: 4 * 1024 * 1024,
    });
    // Unset: the hub takes a tenth of MAX_WAITERS.
    expect(loadConfig(StreamGatewayEnv, {}).MAX_WAITERS_PER_SUBSCRIBER).toBeUndefined();
    expect(loadConfig(StreamGatewayEnv, { MAX_WAITERS_PER_SUBSCRIBER: "7" }).MAX_WAITERS_PER_SUBSCRIBER).toBe(7);
  });

  it("keeps more connections open than long polls held, so every held poll has its connection", () => {
    const config = loadConfig(StreamGatewayEnv, {});
    expect(config.MAX_CONNECTIONS).toBeGreaterThan(config.MAX_WAITERS);
  });

  it("refuses request bounds of zero (no bound at all)", () => {
    try {
      loadConfig(StreamGatewayEnv, {
        HTTP_REQUEST_TIMEOUT_MS: "0",
        HTTP_HEADERS_TIMEOUT_MS: "0",
        MAX_CONNECTIONS: "0",
      });
      expect.unreachable();
    } catch (err) {
      expect((err as ConfigError).problems.map((p) => p.variable).sort()).toEqual([
        "HTTP_HEADERS_TIMEOUT_MS",
        "HTTP_REQUEST_TIMEOUT_MS",
        "MAX_CONNECTIONS",
      ]);
    }
  });

  it("names every bad variable", () => {
    try {
      loadConfig(StreamGatewayEnv, { MAX_WAITERS: "0", PORT: "http" });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).problems.map((p) => p.variable).sort()).toEqual(["MAX_WAITERS", "PORT"]);
    }
  });
});
