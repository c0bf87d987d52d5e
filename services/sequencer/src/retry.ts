import type { Logger } from "@heliograph/platform";
import type { SequencerMetrics } from "./metrics.js";

/** The `operation` label of `heliograph_sequencer_retries_total`. */
export type RetryOperation = "consumer" | "drain" | "mark-streams" | "number" | "publish" | "verify";

/** 50 ms doubling per failure, capped at 2 s. */
export const backoffMs = (failures: number) => Math.min(50 * 2 ** failures, 2_000);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Consecutive failures of one operation. Usually a single `retryWithBackoff` call owns it; an
 * operation retried across passes of a loop (a drain, between batches) keeps one of its own.
 */
export class Backoff {
  failures = 0;
}

export interface RetryOptions {
  operation: RetryOperation;
  log: Logger;
  metrics: Pick<SequencerMetrics, "retries">;
  /** Logged at warn with `err` and `attempt` before each wait. */
  message: string;
  /** More fields for that log line. */
  fields?: () => Record<string, unknown>;
  /** Errors no retry can cure (the lease is gone): rethrown at once, neither counted nor logged. */
  isFatal?: (err: unknown) => boolean;
  /** Checked after a failure: give up instead of retrying (the process is stopping). */
  stopping?: () => boolean;
  /** Logged at warn with `err` when a failure is given up because of `stopping`. */
  stoppingMessage?: string;
  /** Checked before every attempt: give up without trying (the worker is dead). */
  cancelled?: () => boolean;
  /** Attempts in this call; after the last failure it still waits, and the caller tries later. */
  attempts?: number;
  backoff?: Backoff;
}

export type Retried<T> = { ok: true; value: T } | { ok: false };

/**
 * Runs `attempt` until it succeeds, waiting `backoffMs(failures)` after each failure. Gives up
 * (`{ ok: false }`) when `cancelled` or `stopping` says so or after `attempts`; rethrows what
 * `isFatal` accepts. Every retry is counted in `heliograph_sequencer_retries_total{operation}`.
 */
export async function retryWithBackoff<T>(attempt: () => Promise<T>, options: RetryOptions): Promise<Retried<T>> {
  const backoff = options.backoff ?? new Backoff();
  for (let tries = 0; tries < (options.attempts ?? Number.POSITIVE_INFINITY); tries++) {
    if (options.cancelled?.()) return { ok: false };
    try {
      const value = await attempt();
      backoff.failures = 0;
      return { ok: true, value };
    } catch (err) {
      if (options.isFatal?.(err)) throw err;
      if (options.stopping?.()) {
        if (options.stoppingMessage) options.log.warn({ err, ...options.fields?.() }, options.stoppingMessage);
        return { ok: false };
      }
      options.metrics.retries.inc({ operation: options.operation });
      const failures = backoff.failures++;
      options.log.warn({ err, attempt: failures, ...options.fields?.() }, options.message);
      await sleep(backoffMs(failures));
    }
  }
  return { ok: false };
}
