import { HeliographError } from "@heliograph/contracts";

/**
 * Runs a call to a backing service (Redis, NATS): a HeliographError it throws is the answer;
 * anything else means the service did not answer, which is a 503 to retry, not a 500.
 */
export async function fromBackingService<T>(call: () => Promise<T>, onFailure?: (err: unknown) => void): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof HeliographError) throw err;
    onFailure?.(err);
    throw new HeliographError("SERVICE_UNAVAILABLE", { cause: err, retryAfter: 1 });
  }
}
