import type { Redis } from "ioredis";
import { config } from "../config.js";
import { logger } from "../logger.js";

export type RateLimitVerdict = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/**
 * Fixed-window counter in Redis, shared by every API instance. If Redis cannot be reached the
 * request is let through: losing the limit for a moment is better than refusing events.
 */
export async function consumeRateLimit(redis: Redis, bucket: string): Promise<RateLimitVerdict> {
  const { RATE_LIMIT_MAX, RATE_LIMIT_WINDOW_SECONDS, REDIS_PREFIX } = config();
  const window = Math.floor(Date.now() / 1000 / RATE_LIMIT_WINDOW_SECONDS);
  const key = `${REDIS_PREFIX}:ratelimit:${bucket}:${window}`;
  try {
    const result = await redis.multi().incr(key).expire(key, RATE_LIMIT_WINDOW_SECONDS, "NX").exec();
    const count = Number(result?.[0]?.[1] ?? 0);
    if (count <= RATE_LIMIT_MAX) return { allowed: true };
    const windowEnd = (window + 1) * RATE_LIMIT_WINDOW_SECONDS;
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(windowEnd - Date.now() / 1000)) };
  } catch (error) {
    logger.warn({ err: error }, "rate limit unavailable, request allowed");
    return { allowed: true };
  }
}
