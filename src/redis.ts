import { Redis, type RedisOptions } from "ioredis";
import { config } from "./config.js";
import { logger } from "./logger.js";

// Publisher, subscriber and BullMQ connections are never shared: a subscribed connection can
// do nothing else, and BullMQ's blocking commands would stall every other user.

/**
 * For commands on a request's path (rate limits, enqueueing, publishing): a command waits for
 * one reconnection at most, then fails, so a Redis outage slows a request down but never hangs it.
 */
export function createCommandRedis(name: string): Redis {
  return new Redis(config().REDIS_URL, { connectionName: name, maxRetriesPerRequest: 1, connectTimeout: 2_000 });
}

/** For BullMQ workers and pub/sub subscribers, which must wait out a Redis restart. */
export function createBlockingRedis(name: string, options: RedisOptions = {}): Redis {
  return new Redis(config().REDIS_URL, { connectionName: name, maxRetriesPerRequest: null, ...options });
}

/** Logs a connection's outage once (not on every reconnection attempt), and its recovery. */
export function reportOutages(redis: Redis, name: string): Redis {
  let down = false;
  redis.on("error", (error) => {
    if (down) return;
    down = true;
    logger.warn({ err: error, connection: name }, "Redis unavailable; retrying");
  });
  redis.on("ready", () => {
    if (down) logger.info({ connection: name }, "Redis available again");
    down = false;
  });
  return redis;
}

/**
 * Closes a connection without waiting on a Redis that is not there: a connected client quits
 * politely (briefly), any other is dropped. Shutdown must never hang on an outage.
 */
export async function closeRedis(redis: Redis, timeoutMs = 2_000): Promise<void> {
  if (redis.status === "ready") {
    const quit = redis.quit().then(
      () => true,
      () => false,
    );
    const timer = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), timeoutMs).unref());
    if (await Promise.race([quit, timer])) return;
  }
  redis.disconnect();
}
