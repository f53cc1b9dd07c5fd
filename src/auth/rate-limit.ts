import { config } from "../config.js";
import type { RedisClient } from "../redis.js";
import { TokenBuckets } from "../token-bucket.js";

export type RateLimitVerdict = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/**
 * Per-key request limits, shared by every API instance: a token bucket of RATE_LIMIT_MAX requests
 * refilled over RATE_LIMIT_WINDOW_SECONDS, so a client gets a steady rate with room for a burst
 * (and no window edge where twice the limit goes through). If Redis cannot be reached the limit
 * holds per API process (see TokenBuckets): never waiting on Redis is better than refusing events.
 */
export class RateLimiter {
  private readonly buckets: TokenBuckets;

  constructor(redis: RedisClient) {
    this.buckets = new TokenBuckets(redis);
  }

  async consume(bucket: string): Promise<RateLimitVerdict> {
    const { RATE_LIMIT_MAX, RATE_LIMIT_WINDOW_SECONDS, REDIS_PREFIX } = config();
    const take = await this.buckets.take(
      `${REDIS_PREFIX}:ratelimit:${bucket}`,
      RATE_LIMIT_MAX / RATE_LIMIT_WINDOW_SECONDS,
      RATE_LIMIT_MAX,
    );
    return take.taken
      ? { allowed: true }
      : { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(take.retryAfterMs / 1000)) };
  }
}
