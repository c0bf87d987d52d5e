import { HeliographError } from "@heliograph/contracts";
import { describe, expect, it } from "vitest";
import { RateLimiter } from "./rate-limit.js";

describe("RateLimiter", () => {
  it("allows a burst, then refills at the sustained rate", () => {
    let now = 0;
    const limiter = new RateLimiter({ perSecond: 10, burst: 3 }, () => now);
    expect([limiter.take("a"), limiter.take("a"), limiter.take("a")]).toEqual([0, 0, 0]);
    expect(limiter.take("a")).toBeCloseTo(0.1);
    now += 100; // one token back
    expect(limiter.take("a")).toBe(0);
    expect(limiter.take("a")).toBeGreaterThan(0);
  });

  it("keeps keys apart: one client over its limit does not slow another", () => {
    const limiter = new RateLimiter({ perSecond: 1, burst: 1 }, () => 0);
    expect(limiter.take("a")).toBe(0);
    expect(limiter.take("a")).toBeGreaterThan(0);
    expect(limiter.take("b")).toBe(0);
  });

  it("throws 429 RATE_LIMITED with a whole-second Retry-After", () => {
    const limiter = new RateLimiter({ perSecond: 0.5, burst: 1 }, () => 0);
    limiter.check("a");
    try {
      limiter.check("a");
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(HeliographError);
      expect((err as HeliographError).statusCode).toBe(429);
      expect((err as HeliographError).retryAfter).toBe(2);
    }
  });

  it("is off at 0 per second", () => {
    const limiter = new RateLimiter({ perSecond: 0, burst: 1 }, () => 0);
    for (let i = 0; i < 1000; i++) expect(limiter.take("a")).toBe(0);
  });
});
