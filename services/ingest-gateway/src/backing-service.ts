import { HeliographError } from "@heliograph/contracts";

/**
 * Runs a call to Redis (the control plane, idempotency records): a HeliographError it throws is
 * the answer; anything else means Redis did not answer, which is a 503 to retry, not a 500.
 */
export async function fromRedis<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof HeliographError) throw err;
    throw new HeliographError("SERVICE_UNAVAILABLE", { cause: err, retryAfter: 1 });
  }
}
