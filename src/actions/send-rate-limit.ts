import type { Redis } from "ioredis";
import type { Config } from "../config.js";
import type { Channel } from "../generated/prisma/enums.js";
import { logger } from "../logger.js";

export type SendRate = { perSecond: number; burst: number };
export type SendRates = Record<Channel, SendRate>;

/** Rates from the configuration; a bucket holds one second's worth, so a quiet provider may take a short burst. */
export function sendRatesFromConfig(settings: Config): SendRates {
  const rate = (perSecond: number): SendRate => ({ perSecond, burst: Math.max(1, perSecond) });
  return {
    EMAIL: rate(settings.DELIVERY_RATE_EMAIL_PER_SECOND),
    WHATSAPP: rate(settings.DELIVERY_RATE_WHATSAPP_PER_SECOND),
    WEBHOOK: rate(settings.DELIVERY_RATE_WEBHOOK_PER_SECOND),
  };
}

// A token bucket refilled continuously, on Redis's clock so that workers' clocks need not agree.
// The whole take is one script: concurrent workers never spend the same token.
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
return taken
`;

type RedisWithTake = Redis & {
  takeSendToken(key: string, perSecond: number, burst: number): Promise<number>;
};

/** Per-provider send rates shared by every worker. */
export class SendRateLimiter {
  private readonly redis: RedisWithTake;

  constructor(
    redis: Redis,
    private readonly keyPrefix: string,
  ) {
    redis.defineCommand("takeSendToken", { numberOfKeys: 1, lua: TAKE_TOKEN });
    this.redis = redis as RedisWithTake;
  }

  bucketKey(provider: string): string {
    return `${this.keyPrefix}:send-rate:${provider}`;
  }

  /**
   * Takes one send from the provider's bucket. Without Redis the send is allowed: the provider's
   * own limit answers 429, which is retried, whereas refusing would stop every delivery.
   */
  async tryTake(provider: string, rate: SendRate): Promise<boolean> {
    try {
      return (await this.redis.takeSendToken(this.bucketKey(provider), rate.perSecond, rate.burst)) === 1;
    } catch (error) {
      logger.warn({ err: error, provider }, "send-rate limiter unavailable, send allowed");
      return true;
    }
  }
}
