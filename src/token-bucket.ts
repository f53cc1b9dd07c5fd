import type { Redis } from "ioredis";

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

/** Token buckets kept in Redis, shared by every process that uses the same keys. */
export class TokenBuckets {
  private readonly redis: RedisWithTake;

  constructor(redis: Redis) {
    redis.defineCommand("takeToken", { numberOfKeys: 1, lua: TAKE_TOKEN });
    this.redis = redis as RedisWithTake;
  }

  /** Takes one token from the bucket at `key`, which refills `perSecond` up to `burst`. */
  async take(key: string, perSecond: number, burst: number): Promise<Take> {
    const [taken, retryAfterMs] = await this.redis.takeToken(key, perSecond, burst);
    return { taken: taken === 1, retryAfterMs: taken === 1 ? 0 : retryAfterMs };
  }
}
