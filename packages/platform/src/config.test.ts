import { describe, expect, it } from "vitest";
import { BaseEnv, loadConfig } from "./config.js";

// Every service's environment extends BaseEnv, so what it accepts here each service accepts.
describe("BaseEnv", () => {
  it("takes REDIS_URL as one server, a seed list, or one redis-cluster:// URL (a managed cluster's endpoint)", () => {
    for (const url of [
      "redis://127.0.0.1:6379",
      "redis://a:6379,redis://b:6379",
      "rediss-cluster://user:pw@clustercfg.example.com:6379",
    ])
      expect(loadConfig(BaseEnv, { REDIS_URL: url }).REDIS_URL).toBe(url);
    expect(() => loadConfig(BaseEnv, { REDIS_URL: "http://127.0.0.1:6379" })).toThrow(/REDIS_URL/);
  });
});
