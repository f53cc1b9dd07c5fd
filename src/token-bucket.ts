import type { Redis } from "ioredis";
import { logger } from "./logger.js";
import { noteCommandFailure, redisDown } from "./redis.js";

// A token bucket refilled continuously, on Redis's clock so that processes' clocks need not agree.
// The whole take is one script: concurrent processes never spend the same token. It answers
// whether a token was taken and, if not, how long until one will be there.
const TAKE_TOKEN = `
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
local taken = 0
if tokens >= 1 then
  tokens = tokens - 1
  taken = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return { taken, math.ceil((1 - math.min(1, tokens)) * 1000 / rate) }
`;

type RedisWithTake = Redis & { takeToken(key: string, perSecond: number, burst: number): Promise<[number, number]> };

export type Take = { taken: boolean; retryAfterMs: number };

/** Local buckets kept at most this long after their last use (a full bucket needs no state). */
const LOCAL_IDLE_MS = 10 * 60_000;

/**
 * Token buckets kept in Redis, shared by every process that uses the same keys. While Redis is
 * away (known down, or a command fails or times out) each process keeps the same buckets in its
 * own memory: the limit then holds per process instead of across them, and nothing waits on Redis.
 */
export class TokenBuckets {
  private readonly redis: RedisWithTake;
  private readonly local = new Map<string, { tokens: number; at: number }>();
  private onLocal = false;

  constructor(redis: Redis) {
    redis.defineCommand("takeToken", { numberOfKeys: 1, lua: TAKE_TOKEN });
    this.redis = redis as RedisWithTake;
  }

  /** Takes one token from the bucket at `key`, which refills `perSecond` up to `burst`. */
  async take(key: string, perSecond: number, burst: number): Promise<Take> {
    if (!redisDown(this.redis)) {
      try {
        const [taken, retryAfterMs] = await this.redis.takeToken(key, perSecond, burst);
        if (this.onLocal) logger.info("token buckets back on Redis");
        this.onLocal = false;
        return { taken: taken === 1, retryAfterMs: taken === 1 ? 0 : retryAfterMs };
      } catch (error) {
        noteCommandFailure(this.redis, error);
        if (!this.onLocal) logger.warn({ err: error }, "token buckets unavailable in Redis: limiting per process");
        this.onLocal = true;
      }
    }
    return this.takeLocal(key, perSecond, burst);
  }

  /** The same bucket as TAKE_TOKEN, on this process's clock. */
  private takeLocal(key: string, perSecond: number, burst: number): Take {
    const now = Date.now();
    const state = this.local.get(key) ?? { tokens: burst, at: now };
    let tokens = Math.min(burst, state.tokens + (Math.max(0, now - state.at) * perSecond) / 1000);
    const taken = tokens >= 1;
    if (taken) tokens -= 1;
    this.local.set(key, { tokens, at: now });
    if (this.local.size > 10_000) this.forgetIdle(now);
    return { taken, retryAfterMs: taken ? 0 : Math.ceil(((1 - tokens) * 1000) / perSecond) };
  }

  private forgetIdle(now: number): void {
    for (const [key, state] of this.local) if (now - state.at > LOCAL_IDLE_MS) this.local.delete(key);
  }
}
