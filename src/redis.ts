import { Redis, type RedisOptions } from "ioredis";
import { config } from "./config.js";
import { logger } from "./logger.js";

// Publisher, subscriber and BullMQ connections are never shared: a subscribed connection can
// do nothing else, and BullMQ's blocking commands would stall every other user.

/** Connections seen failing since they were last ready (see `redisDown`). */
const down = new WeakSet<Redis>();

/**
 * For commands on a request's or a loop's path (rate limits, enqueueing, publishing): a command
 * gives up after REDIS_COMMAND_TIMEOUT_MS, and callers skip Redis at once while `redisDown` says
 * the connection is lost, so a Redis outage never slows a request down by more than a check.
 */
export function createCommandRedis(
  name: string,
  options: Pick<RedisOptions, "lazyConnect" | "enableAutoPipelining"> = {},
): Redis {
  const { REDIS_URL, REDIS_COMMAND_TIMEOUT_MS } = config();
  return reportOutages(
    new Redis(REDIS_URL, {
      connectionName: name,
      maxRetriesPerRequest: 1,
      connectTimeout: 2_000,
      commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
      ...options,
    }),
    name,
  );
}

/** For BullMQ workers and pub/sub subscribers, which must wait out a Redis restart. */
export function createBlockingRedis(name: string, options: RedisOptions = {}): Redis {
  return reportOutages(
    new Redis(config().REDIS_URL, { connectionName: name, maxRetriesPerRequest: null, ...options }),
    name,
  );
}

/**
 * True from a connection's first error or close until it is ready again: callers that must not
 * wait (a request, a best-effort publish) skip Redis meanwhile instead of queueing a command.
 * A connection that has not connected yet is not down: its first commands wait (bounded).
 */
export function redisDown(redis: Redis): boolean {
  return down.has(redis) && redis.status !== "ready";
}

/**
 * Call with a command's failure: a command that timed out on a connection that still looks
 * connected means Redis hangs (stopped process, partition, overload). The connection is dropped
 * and reconnects, so it counts as down (redisDown) until Redis answers again, and callers stop
 * waiting on it after one timeout per connection instead of one per request.
 */
export function noteCommandFailure(redis: Redis, error: unknown): void {
  if (error instanceof Error && /Command timed out/.test(error.message) && redis.status === "ready") {
    redis.disconnect(true);
  }
}

/**
 * Listens for a connection's errors (without a listener ioredis prints each one), logs its
 * outage once, not on every reconnection attempt, and its recovery.
 */
function reportOutages(redis: Redis, name: string): Redis {
  const lost = (error?: Error) => {
    if (down.has(redis)) return;
    down.add(redis);
    logger.warn({ err: error, connection: name }, "Redis unavailable; retrying");
  };
  redis.on("error", lost);
  redis.on("close", () => {
    // A close we asked for (quit, disconnect) is not an outage.
    if (redis.status !== "end") lost();
  });
  redis.on("ready", () => {
    if (down.delete(redis)) logger.info({ connection: name }, "Redis available again");
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
