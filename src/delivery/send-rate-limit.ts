import type { Config } from "../config.js";
import type { Channel } from "../generated/prisma/enums.js";
import type { RedisClient } from "../redis.js";
import { type TakeMany, TokenBuckets } from "../token-bucket.js";

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

/** Per-provider send rates shared by every worker. */
export class SendRateLimiter {
  private readonly buckets: TokenBuckets;

  constructor(
    redis: RedisClient,
    private readonly keyPrefix: string,
  ) {
    this.buckets = new TokenBuckets(redis);
  }

  bucketKey(provider: string): string {
    return `${this.keyPrefix}:send-rate:${provider}`;
  }

  /**
   * Takes up to `wanted` sends from the provider's bucket in one round trip (per worker while Redis
   * is away: see TokenBuckets); `retryAfterMs` says when the next send will be allowed.
   */
  take(provider: string, rate: SendRate, wanted: number): Promise<TakeMany> {
    return this.buckets.takeUpTo(this.bucketKey(provider), rate.perSecond, rate.burst, wanted);
  }
}
