import { type WebhookAttempt, WebhookAttempt as WebhookAttemptSchema } from "@heliograph/contracts";
import type { Redis } from "@heliograph/platform";
import { webhookKeys } from "./keys.js";

/**
 * Where one webhook endpoint's delivery stands, in Redis (keys: `webhookKeys`): its position, the
 * failure being retried, its delivery log and the lease of the dispatcher delivering to it.
 */

/**
 * KEYS: position, lease, failing. ARGV: expected position ("" = unset), new position, lease holder.
 * Moves the position only from where the caller read it and only for the lease's holder, so a
 * replay made meanwhile, or a dispatcher that lost its lease, is never overwritten. Answers 1
 * (moved), 0 (the position is not the expected one), -1 (the caller does not hold the lease).
 */
const ADVANCE = `
if redis.call('GET', KEYS[2]) ~= ARGV[3] then return -1 end
local current = redis.call('GET', KEYS[1])
if (current or '') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('DEL', KEYS[3])
return 1
`;

/**
 * Advances the position after a 2xx: `advanced`; `moved` when a replay moved it meanwhile (read
 * again); `lease-lost` when the caller no longer holds the endpoint (another dispatcher took it,
 * or the endpoint was deleted with its state): the caller must stop delivering.
 */
export async function advanceWebhookPosition(
  redis: Redis,
  endpointId: string,
  expected: number | null,
  next: number,
  holder: string,
): Promise<"advanced" | "moved" | "lease-lost"> {
  const k = webhookKeys(endpointId);
  const answer = await redis.eval(
    ADVANCE,
    3,
    k.position,
    k.lease,
    k.failing,
    expected === null ? "" : String(expected),
    String(next),
    holder,
  );
  return answer === 1 ? "advanced" : answer === 0 ? "moved" : "lease-lost";
}

/**
 * The last event number delivered or skipped; null when never set (the record's start_after
 * holds then). Compare-and-set with advanceWebhookPosition.
 */
export async function readWebhookPosition(redis: Redis, endpointId: string): Promise<number | null> {
  const value = await redis.get(webhookKeys(endpointId).position);
  return value === null ? null : Number(value);
}

/** An operator's replay: the next event delivered is `from` (and its failure history is forgotten). */
export async function replayWebhookFrom(redis: Redis, endpointId: string, from: number): Promise<void> {
  const k = webhookKeys(endpointId);
  await redis
    .multi()
    .set(k.position, String(from - 1))
    .del(k.failing)
    .exec();
}

/** Forgets the failure being retried (a resume gives the endpoint its whole retry window again). */
export async function clearWebhookFailure(redis: Redis, endpointId: string): Promise<void> {
  await redis.del(webhookKeys(endpointId).failing);
}

/** Since when (ms) event `eventNumber` has failed, recording now when it is the first failure. */
export async function webhookFailingSince(redis: Redis, endpointId: string, eventNumber: number, now: number) {
  const key = webhookKeys(endpointId).failing;
  const value = await redis.get(key);
  const [n, since] = value?.split("|") ?? [];
  if (n === String(eventNumber) && since !== undefined) return Number(since);
  await redis.set(key, `${eventNumber}|${now}`);
  return now;
}

/** Adds an attempt to the endpoint's delivery log, keeping the newest `keep`. */
export async function recordWebhookAttempt(
  redis: Redis,
  endpointId: string,
  attempt: WebhookAttempt,
  keep: number,
): Promise<void> {
  const key = webhookKeys(endpointId).attempts;
  await redis
    .multi()
    .lpush(key, JSON.stringify(attempt))
    .ltrim(key, 0, keep - 1)
    .exec();
}

/** The endpoint's delivery log, newest first. */
export async function readWebhookAttempts(redis: Redis, endpointId: string, count = 100): Promise<WebhookAttempt[]> {
  const texts = await redis.lrange(webhookKeys(endpointId).attempts, 0, count - 1);
  return texts.map((t) => WebhookAttemptSchema.parse(JSON.parse(t)));
}

/** Everything Redis holds of a deleted endpoint. */
export async function deleteWebhookState(redis: Redis, endpointId: string): Promise<void> {
  const k = webhookKeys(endpointId);
  await redis.del(k.position, k.attempts, k.failing, k.lease);
}

const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
return 0
`;
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) return 1 end
return 0
`;

/** Takes the endpoint's lease when nobody holds it; true when `holder` holds it now. */
export async function acquireWebhookLease(redis: Redis, endpointId: string, holder: string, ttlMs: number) {
  const key = webhookKeys(endpointId).lease;
  const taken = await redis.set(key, holder, "PX", ttlMs, "NX");
  if (taken === "OK") return true;
  return (await redis.eval(RENEW, 1, key, holder, String(ttlMs))) === 1;
}

/** Extends the lease; false when `holder` no longer holds it (expired and taken by another). */
export async function renewWebhookLease(redis: Redis, endpointId: string, holder: string, ttlMs: number) {
  return (await redis.eval(RENEW, 1, webhookKeys(endpointId).lease, holder, String(ttlMs))) === 1;
}

export async function releaseWebhookLease(redis: Redis, endpointId: string, holder: string): Promise<void> {
  await redis.eval(RELEASE, 1, webhookKeys(endpointId).lease, holder);
}
