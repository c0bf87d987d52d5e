import { describe, expect, it } from "vitest";
import { HeliographApiError } from "./errors.js";
import { backoffDelay, isRetryable, retryPolicy, sendWithRetry } from "./retry.js";

// The retry decisions alone. The answers come from a fetch that answers from a list: what is under
// test is which answers the SDK sends again, not a server (publisher.test.ts has the real 429 and 503).

describe("backoffDelay", () => {
  it("full jitter: every delay lies in [0, min(maxDelayMs, initialDelayMs × 2^retry)) and the draws spread over it", () => {
    const policy = { initialDelayMs: 200, maxDelayMs: 5_000 };
    for (let retry = 0; retry <= 12; retry++) {
      const ceiling = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** retry);
      const draws = Array.from({ length: 2_000 }, () => backoffDelay(retry, policy));
      const [low, high] = [Math.min(...draws), Math.max(...draws)];
      expect(low).toBeGreaterThanOrEqual(0);
      expect(high).toBeLessThan(ceiling);
      // Spread, not a fixed delay: 2,000 uniform draws none in the lowest or highest tenth is a bug.
      expect(low).toBeLessThan(ceiling * 0.1);
      expect(high).toBeGreaterThan(ceiling * 0.9);
    }
  });
});

/** A fetch that answers `status` with Heliograph's error body of `code` once, then 202. */
function failingOnce(status: number, code: string, headers: Record<string, string> = {}) {
  let calls = 0;
  const fetchImpl: typeof fetch = async () => {
    calls++;
    if (calls > 1) return Response.json({ status: "accepted" }, { status: 202 });
    return Response.json({ error: { code, message: code, details: [] } }, { status, headers });
  };
  return { fetchImpl, calls: () => calls };
}

const send = (fetchImpl: typeof fetch) =>
  sendWithRetry(
    fetchImpl,
    "http://heliograph.invalid/api/v1/create_trading_signal",
    { method: "POST" },
    { policy: retryPolicy({ initialDelayMs: 1, maxDelayMs: 1 }), attemptTimeoutMs: 1_000 },
  );

describe("the answers a call retries", () => {
  const retried: [number, string][] = [
    [429, "RATE_LIMITED"],
    [503, "INGEST_UNAVAILABLE"],
    [503, "SERVICE_UNAVAILABLE"],
    [503, "SHUTTING_DOWN"],
    [502, "NO_INSTANCE_ANSWERED"],
    [409, "IDEMPOTENCY_KEY_IN_PROGRESS"],
  ];
  it.each(retried)("%i %s is sent again, and the retry's 202 is the answer", async (status, code) => {
    const answers = failingOnce(status, code);
    const res = await send(answers.fetchImpl);
    expect(res.status).toBe(202);
    expect(answers.calls()).toBe(2);
  });

  const thrown: [number, string][] = [
    [400, "VALIDATION_FAILED"],
    [401, "AUTH_INVALID"],
    [403, "FORBIDDEN"],
    [404, "NOT_FOUND"],
    [409, "IDEA_CLOSED"],
    [413, "BODY_TOO_LARGE"],
    [422, "IDEMPOTENCY_KEY_REUSED"],
    [422, "RESOURCE_VALUE_INVALID"],
    [500, "INTERNAL"],
    [502, "UNKNOWN"],
    [504, "UNKNOWN"],
  ];
  it.each(thrown)("%i %s is thrown after one request, never retried", async (status, code) => {
    // Even with a Retry-After: only the status and code decide.
    const answers = failingOnce(status, code, { "retry-after": "0" });
    const error = await send(answers.fetchImpl).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(HeliographApiError);
    expect(error).toMatchObject({ status, attempts: 1 });
    expect(answers.calls()).toBe(1);
  });

  it("isRetryable reads a body that is not Heliograph's (a proxy's page) by its status alone", () => {
    expect(isRetryable(new HeliographApiError(503, undefined, {}, 1))).toBe(true);
    expect(isRetryable(new HeliographApiError(429, undefined, {}, 1))).toBe(true);
    expect(isRetryable(new HeliographApiError(502, undefined, {}, 1))).toBe(false);
    expect(isRetryable(new HeliographApiError(500, undefined, {}, 1))).toBe(false);
  });
});
