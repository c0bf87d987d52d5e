import { HeliographError } from "@heliograph/contracts";

export interface RateLimit {
  /** Sustained requests per second per key; 0 turns the limit off. */
  perSecond: number;
  /** Requests a key may make at once after being idle. */
  burst: number;
}

/**
 * A token bucket per key (a publisher, a subscriber), so one client cannot starve the others.
 * Per process: with N gateway processes a key may reach N times the rate, which is the point of
 * scaling them.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly limit: RateLimit,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Takes one token for `key`; returns 0 when allowed, else the seconds until one is free. */
  take(key: string): number {
    if (this.limit.perSecond <= 0) return 0;
    const now = this.now();
    let bucket = this.buckets.get(key);
    if (!bucket) {
      // Bounded memory under a flood of distinct keys: forget everyone (they start full again).
      if (this.buckets.size >= 100_000) this.buckets.clear();
      bucket = { tokens: this.limit.burst, at: now };
      this.buckets.set(key, bucket);
    }
    bucket.tokens = Math.min(this.limit.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.limit.perSecond);
    bucket.at = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return (1 - bucket.tokens) / this.limit.perSecond;
  }

  /** Throws 429 RATE_LIMITED with Retry-After (whole seconds, at least 1) when `key` is over its limit. */
  check(key: string): void {
    const wait = this.take(key);
    if (wait > 0) {
      throw new HeliographError("RATE_LIMITED", {
        retryAfter: Math.max(1, Math.ceil(wait)),
        details: [
          { path: "", message: `over ${this.limit.perSecond} requests per second (burst ${this.limit.burst})` },
        ],
      });
    }
  }
}
