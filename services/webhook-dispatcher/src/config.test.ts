import { loadConfig } from "@heliograph/platform";
import { describe, expect, it } from "vitest";
import { WebhookDispatcherEnv } from "./config.js";

describe("webhook-dispatcher config", () => {
  it("takes REDIS_URL as one server, a seed list, or one redis-cluster:// URL (a managed cluster's endpoint)", () => {
    for (const url of [
      "redis://127.0.0.1:6379",
      "redis://a:6379,redis://b:6379",
      "rediss-cluster://user:pw@clustercfg.example.com:6379",
    ])
      expect(loadConfig(WebhookDispatcherEnv, { REDIS_URL: url }).REDIS_URL).toBe(url);
    expect(() => loadConfig(WebhookDispatcherEnv, { REDIS_URL: "http://127.0.0.1:6379" })).toThrow(/REDIS_URL/);
  });
});
