import { ConfigError, loadConfig } from "@heliograph/platform";
import { describe, expect, it } from "vitest";
import { WebhookDispatcherEnv } from "./config.js";

describe("webhook-dispatcher config", () => {
  it("retries an event for 24 hours by default before pausing its endpoint (issue 12)", () => {
    expect(loadConfig(WebhookDispatcherEnv, {}).WEBHOOK_RETRY_LIMIT_MS).toBe(24 * 60 * 60 * 1000);
    expect(loadConfig(WebhookDispatcherEnv, { WEBHOOK_RETRY_LIMIT_MS: "4000" }).WEBHOOK_RETRY_LIMIT_MS).toBe(4000);
  });

  it("has the documented defaults", () => {
    expect(loadConfig(WebhookDispatcherEnv, {})).toMatchObject({
      HOST: "127.0.0.1",
      PORT: 8083,
      WEBHOOK_TIMEOUT_MS: 10_000,
      WEBHOOK_RETRY_BASE_MS: 1_000,
      WEBHOOK_RETRY_MAX_DELAY_MS: 600_000,
      // Private targets are refused unless a deployment asks for them.
      WEBHOOK_ALLOW_PRIVATE_TARGETS: false,
      WEBHOOK_LEASE_MS: 10_000,
      WEBHOOK_SCAN_MS: 1_000,
      WEBHOOK_LOG_SIZE: 100,
    });
  });

  it("names every bad variable", () => {
    try {
      loadConfig(WebhookDispatcherEnv, { WEBHOOK_RETRY_LIMIT_MS: "-1", WEBHOOK_LEASE_MS: "10" });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).problems.map((p) => p.variable).sort()).toEqual([
        "WEBHOOK_LEASE_MS",
        "WEBHOOK_RETRY_LIMIT_MS",
      ]);
    }
  });
});
