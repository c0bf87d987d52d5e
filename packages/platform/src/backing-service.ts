import { HeliographError } from "@heliograph/contracts";

/**
 * Runs a call to a backing service (Redis, NATS): a HeliographError it throws is the answer;
 * anything else means the service did not answer, which is a 503 to retry, not a 500.
 */
export async function fromBackingService<T>(call: () => Promise<T>, onFailure?: (err: unknown) => void): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw backingServiceError(err, onFailure);
  }
}

/**
 * What to throw for an error of a call to a backing service (see {@link fromBackingService}), for
 * a caller that catches it itself: a held long poll, which would otherwise keep a wrapper's
 * async frame and two closures for as long as it is held.
 */
export function backingServiceError(err: unknown, onFailure?: (err: unknown) => void): HeliographError {
  if (err instanceof HeliographError) return err;
  onFailure?.(err);
  return new HeliographError("SERVICE_UNAVAILABLE", { cause: err, retryAfter: 1 });
}
