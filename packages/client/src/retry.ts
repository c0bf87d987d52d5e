import { HeliographApiError, HeliographNetworkError } from "./errors.js";

/** How long one call keeps retrying. The budget ends at whichever limit comes first. */
export interface RetryOptions {
  /** Requests in all for one call, the first included (default 8; 1 turns retries off). */
  attempts?: number;
  /** No retry starts later than this many ms after the call began (default 60,000). */
  deadlineMs?: number;
  /** Ceiling of the first backoff in ms (default 200); it doubles on every retry. */
  initialDelayMs?: number;
  /** Largest backoff ceiling in ms (default 5,000). */
  maxDelayMs?: number;
}

const DEFAULT_RETRY: Required<RetryOptions> = {
  attempts: 8,
  deadlineMs: 60_000,
  initialDelayMs: 200,
  maxDelayMs: 5_000,
};

export const retryPolicy = (...layers: (RetryOptions | undefined)[]): Required<RetryOptions> =>
  Object.assign({}, DEFAULT_RETRY, ...layers.map((layer) => stripUndefined(layer ?? {})));

const stripUndefined = (o: object) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

/**
 * "Full jitter" exponential backoff: a random delay up to initial × 2^retry, capped. Randomising the
 * whole delay spreads a crowd of clients that failed together, so they do not return together.
 */
export function backoffDelay(retry: number, policy: Pick<Required<RetryOptions>, "initialDelayMs" | "maxDelayMs">) {
  const ceiling = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** retry);
  return Math.random() * ceiling;
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

export const headersOf = (res: Response): Record<string, string> => Object.fromEntries(res.headers.entries());

type ErrorFields = ConstructorParameters<typeof HeliographApiError>[1];

/** The `error` of an answer's body when it is Heliograph's error body; undefined otherwise. */
export async function errorBodyOf(res: Response): Promise<ErrorFields> {
  const text = await res.text().catch(() => "");
  try {
    const body = JSON.parse(text) as { error?: ErrorFields } | null;
    return body !== null && typeof body === "object" && typeof body.error === "object" ? body.error : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The answers a call retries, and no others (issue 12: network errors, 429 and 503, never another
 * 4xx). Each says "later" about a request Heliograph did not act on, or, under the same
 * Idempotency-Key, one whose retry gets the first attempt's answer:
 * - 429 RATE_LIMITED and 503 (INGEST_UNAVAILABLE, SERVICE_UNAVAILABLE, SHUTTING_DOWN), with Retry-After;
 * - 502 NO_INSTANCE_ANSWERED, the `pnpm dev` front's word for "every gateway refused the
 *   connection": a network error, relayed;
 * - 409 IDEMPOTENCY_KEY_IN_PROGRESS, the one 4xx retried, on purpose: it is this call's own earlier
 *   attempt (one the client stopped waiting for) still under way, and the retry, with the same key,
 *   gets that attempt's answer or publishes once its reservation lapses. Thrown, it would leave the
 *   caller to retry with the same key anyway.
 * 500 (a fault in Heliograph), another 502, 504 and every other 4xx are thrown at once.
 */
export const RETRIED_STATUSES: readonly number[] = [429, 503];
export const RETRIED_CODES = ["IDEMPOTENCY_KEY_IN_PROGRESS", "NO_INSTANCE_ANSWERED"] as const;

export const isRetryable = (error: HeliographApiError) =>
  RETRIED_STATUSES.includes(error.status) || (RETRIED_CODES as readonly string[]).includes(error.code);

export interface SendOptions {
  policy: Required<RetryOptions>;
  signal?: AbortSignal | undefined;
  /** Bound of one attempt in ms; past it the attempt counts as a network failure. */
  attemptTimeoutMs: number;
  /** Called before every attempt (tests count them; logs). */
  onAttempt?: ((attempt: number) => void) | undefined;
}

/**
 * Sends one request until it gets a 2xx answer, retrying network failures and retryable answers
 * within the budget with the same `init` (so the same Idempotency-Key). Throws HeliographApiError
 * for an answer it will not retry (or the last one when the budget ran out on answers),
 * HeliographNetworkError when the budget ran out on network failures, and the signal's reason when
 * it aborts.
 */
export async function sendWithRetry(
  fetchImpl: typeof fetch,
  url: string,
  init: Omit<RequestInit, "signal">,
  options: SendOptions,
): Promise<Response> {
  const { policy, signal } = options;
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    if (signal?.aborted) throw signal.reason;
    options.onAttempt?.(attempt);
    const attemptSignal = signal
      ? AbortSignal.any([signal, AbortSignal.timeout(options.attemptTimeoutMs)])
      : AbortSignal.timeout(options.attemptTimeoutMs);
    let failure: HeliographApiError | HeliographNetworkError;
    let waitAtLeastMs = 0;
    try {
      const res = await fetchImpl(url, { ...init, signal: attemptSignal });
      if (res.ok) return res;
      failure = new HeliographApiError(res.status, await errorBodyOf(res), headersOf(res), attempt);
      if (!isRetryable(failure)) throw failure;
      waitAtLeastMs = (failure.retryAfter ?? 0) * 1000;
    } catch (err) {
      if (err instanceof HeliographApiError && !isRetryable(err)) throw err;
      if (signal?.aborted) throw signal.reason;
      failure =
        err instanceof HeliographApiError
          ? err
          : new HeliographNetworkError(`no answer from ${url}: ${describe(err)}`, attempt, err);
    }
    const delay = Math.max(waitAtLeastMs, backoffDelay(attempt - 1, policy));
    if (attempt >= policy.attempts || Date.now() + delay - started > policy.deadlineMs) {
      if (failure instanceof HeliographNetworkError)
        throw new HeliographNetworkError(
          `${failure.message} (gave up after ${attempt} attempts)`,
          attempt,
          failure.cause,
        );
      throw failure;
    }
    await sleep(delay, signal);
  }
}

/** What failed, down to the system error (ECONNREFUSED) that fetch wraps. */
export function describe(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message ?? String(err);
}
