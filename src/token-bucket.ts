import { logger } from "./logger.js";
import { noteCommandFailure, type RedisClient, redisDown } from "./redis.js";

// A token bucket refilled continuously, on Redis's clock so that processes' clocks need not agree.
// The whole take is one script: concurrent processes never spend the same token. It takes up to
// the tokens wanted and answers how many it took and how long until the next one will be there.
// It touches its one key only, so a Redis Cluster runs it on that key's master (buckets spread).
const TAKE_TOKENS = `
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local wanted = tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
local taken = math.max(0, math.min(wanted, math.floor(tokens)))
tokens = tokens - taken
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return { taken, math.ceil((1 - math.min(1, tokens)) * 1000 / rate) }
`;

type RedisWithTake = RedisClient & {
  takeTokens(key: string, perSecond: number, burst: number, wanted: number): Promise<[number, number]>;
};

export type Take = { taken: boolean; retryAfterMs: number };

/** How many of the tokens wanted were taken, and in how many ms the next one will be there. */
export type TakeMany = { taken: number; retryAfterMs: number };

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

  constructor(redis: RedisClient) {
    redis.defineCommand("takeTokens", { numberOfKeys: 1, lua: TAKE_TOKENS });
    this.redis = redis as RedisWithTake;
  }

  /** Takes one token from the bucket at `key`, which refills `perSecond` up to `burst`. */
  async take(key: string, perSecond: number, burst: number): Promise<Take> {
    const { taken, retryAfterMs } = await this.takeUpTo(key, perSecond, burst, 1);
    return { taken: taken === 1, retryAfterMs: taken === 1 ? 0 : retryAfterMs };
  }

  /**
   * Takes up to `wanted` tokens at once from the bucket at `key` (one round trip for a batch of
   * sends); `retryAfterMs` is how long until the next token after those taken.
   */
  async takeUpTo(key: string, perSecond: number, burst: number, wanted: number): Promise<TakeMany> {
    if (!redisDown(this.redis)) {
      try {
        const [taken, retryAfterMs] = await this.redis.takeTokens(key, perSecond, burst, wanted);
        if (this.onLocal) logger.info("token buckets back on Redis");
        this.onLocal = false;
        return { taken, retryAfterMs };
      } catch (error) {
        noteCommandFailure(this.redis, error);
        if (!this.onLocal) logger.warn({ err: error }, "token buckets unavailable in Redis: limiting per process");
        this.onLocal = true;
      }
    }
    return this.takeLocal(key, perSecond, burst, wanted);
  }

  /** The same bucket as TAKE_TOKENS, on this process's clock. */
  private takeLocal(key: string, perSecond: number, burst: number, wanted: number): TakeMany {
    const now = Date.now();
    const state = this.local.get(key) ?? { tokens: burst, at: now };
    let tokens = Math.min(burst, state.tokens + (Math.max(0, now - state.at) * perSecond) / 1000);
    const taken = Math.max(0, Math.min(wanted, Math.floor(tokens)));
    tokens -= taken;
    this.local.set(key, { tokens, at: now });
    if (this.local.size > 10_000) this.forgetIdle(now);
    return { taken, retryAfterMs: Math.ceil(((1 - Math.min(1, tokens)) * 1000) / perSecond) };
  }

  private forgetIdle(now: number): void {
    for (const [key, state] of this.local) if (now - state.at > LOCAL_IDLE_MS) this.local.delete(key);
  }
}
