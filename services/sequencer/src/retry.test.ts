import { createLogger, Registry } from "@heliograph/platform";
import { describe, expect, it } from "vitest";
import { createMetrics } from "./metrics.js";
import { Backoff, backoffMs, type RetryOptions, retryWithBackoff } from "./retry.js";

const log = createLogger({ name: "test", level: "silent" });

function setup(overrides: Partial<RetryOptions> = {}) {
  const metrics = createMetrics(new Registry());
  const options: RetryOptions = { operation: "number", log, metrics, message: "retrying", ...overrides };
  const retries = async () =>
    (await metrics.retries.get()).values.find((v) => v.labels.operation === "number")?.value ?? 0;
  return { options, retries };
}

/** An operation that fails `failures` times with `error`, then answers "done". */
function failing(failures: number, error: unknown = new Error("transient")) {
  let calls = 0;
  const op = async () => {
    calls++;
    if (calls <= failures) throw error;
    return "done";
  };
  return { op, calls: () => calls };
}

describe("retryWithBackoff", () => {
  it("backs off 50 ms doubling per failure, capped at 2 s", () => {
    expect([0, 1, 2, 5, 6, 20].map(backoffMs)).toEqual([50, 100, 200, 1_600, 2_000, 2_000]);
  });

  it("retries until the operation succeeds, counting each retry", async () => {
    const { options, retries } = setup();
    const { op, calls } = failing(2);
    expect(await retryWithBackoff(op, options)).toEqual({ ok: true, value: "done" });
    expect(calls()).toBe(3);
    expect(await retries()).toBe(2);
  });

  it("rethrows a fatal error at once, uncounted", async () => {
    const fatal = new Error("lease gone");
    const { options, retries } = setup({ isFatal: (err) => err === fatal });
    const { op, calls } = failing(5, fatal);
    await expect(retryWithBackoff(op, options)).rejects.toBe(fatal);
    expect(calls()).toBe(1);
    expect(await retries()).toBe(0);
  });

  it("gives up after a failure while stopping, and does not try at all once cancelled", async () => {
    const stopping = setup({ stopping: () => true });
    const first = failing(1);
    expect(await retryWithBackoff(first.op, stopping.options)).toEqual({ ok: false });
    expect(first.calls()).toBe(1);
    expect(await stopping.retries()).toBe(0);

    const cancelled = setup({ cancelled: () => true });
    const second = failing(0);
    expect(await retryWithBackoff(second.op, cancelled.options)).toEqual({ ok: false });
    expect(second.calls()).toBe(0);
  });

  it("with a shared Backoff and one attempt per call, keeps counting failures across calls until one succeeds", async () => {
    const backoff = new Backoff();
    const { options, retries } = setup({ attempts: 1, backoff });
    const { op } = failing(2);
    expect(await retryWithBackoff(op, options)).toEqual({ ok: false });
    expect(await retryWithBackoff(op, options)).toEqual({ ok: false });
    expect(backoff.failures).toBe(2);
    expect(await retryWithBackoff(op, options)).toEqual({ ok: true, value: "done" });
    expect(backoff.failures).toBe(0);
    expect(await retries()).toBe(2);
  });
});
