import { Cluster, type ClusterOptions, Redis, type RedisOptions } from "ioredis";
import { config, redisNodes } from "./config.js";
import { logger } from "./logger.js";

// Publisher, subscriber and BullMQ connections are never shared: a subscribed connection can
// do nothing else, and BullMQ's blocking commands would stall every other user.

/** A connection to the configured Redis: a single server, or a Redis Cluster (REDIS_URL, REDIS_CLUSTER). */
export type RedisClient = Redis | Cluster;

/** Connections seen failing since they were last ready (see `redisDown`). */
const down = new WeakSet<RedisClient>();
/** Connections being closed on purpose (closeRedis): their close is not an outage. */
const closing = new WeakSet<RedisClient>();

/**
 * A Redis Cluster client whose commands give up `redisOptions.commandTimeout` after they are
 * issued, as a single Redis's do. ioredis starts that timer only when a command reaches a node,
 * so a command issued while no node answers would wait in the cluster's offline queue until one
 * does (ioredis 5.11, cluster/index.js sendCommand).
 */
class TimedCluster extends Cluster {
  override sendCommand(...args: Parameters<Cluster["sendCommand"]>): unknown {
    const timeout = this.options.redisOptions?.commandTimeout;
    if (timeout !== undefined) args[0].setTimeout(timeout);
    return super.sendCommand(...args);
  }
}

/**
 * Opens a connection named `name` with these options: a Redis of REDIS_URL, or with REDIS_CLUSTER a
 * Cluster seeded with REDIS_URL's nodes. A cluster's per-node options are its `redisOptions`;
 * the credentials and TLS (rediss://) of the first node apply to every node the cluster finds.
 */
function connect(name: string, options: RedisOptions): RedisClient {
  const { REDIS_URL, REDIS_CLUSTER } = config();
  if (!REDIS_CLUSTER) return new Redis(REDIS_URL, { connectionName: name, ...options });
  const nodes = redisNodes(REDIS_URL);
  const first = new URL(nodes[0]);
  const { lazyConnect, enableAutoPipelining, ...nodeOptions } = options;
  const clusterOptions: ClusterOptions = {
    lazyConnect,
    enableAutoPipelining,
    redisOptions: {
      connectionName: name,
      ...(first.username ? { username: decodeURIComponent(first.username) } : {}),
      ...(first.password ? { password: decodeURIComponent(first.password) } : {}),
      ...(first.protocol === "rediss:" ? { tls: {} } : {}),
      ...nodeOptions,
    },
  };
  return new TimedCluster(nodes, clusterOptions);
}

/**
 * For commands on a request's or a loop's path (rate limits, enqueueing, publishing): a command
 * gives up after REDIS_COMMAND_TIMEOUT_MS, and callers skip Redis at once while `redisDown` says
 * the connection is lost, so a Redis outage never slows a request down by more than a check.
 */
export function createCommandRedis(
  name: string,
  options: Pick<RedisOptions, "lazyConnect" | "enableAutoPipelining"> = {},
): RedisClient {
  return reportOutages(
    connect(name, {
      maxRetriesPerRequest: 1,
      connectTimeout: 2_000,
      commandTimeout: config().REDIS_COMMAND_TIMEOUT_MS,
      ...options,
    }),
    name,
  );
}

/** For BullMQ workers and pub/sub subscribers, which must wait out a Redis restart. */
export function createBlockingRedis(name: string): RedisClient {
  return reportOutages(connect(name, { maxRetriesPerRequest: null }), name);
}

/**
 * True from a connection's first error or close until it is ready again: callers that must not
 * wait (a request, a best-effort publish) skip Redis meanwhile instead of queueing a command.
 * A connection that has not connected yet is not down: its first commands wait (bounded).
 * A cluster is down when no node can be reached, not while one of its masters fails over.
 */
export function redisDown(redis: RedisClient): boolean {
  return down.has(redis) && redis.status !== "ready";
}

/** Connections whose hang is being confirmed (noteCommandFailure). */
const probing = new WeakSet<RedisClient>();

/** PINGs in a row a timed-out connection must leave unanswered to count as hung. */
const PROBES_TO_CONFIRM_HANG = 2;

const timedOut = (error: unknown): boolean => error instanceof Error && /Command timed out/.test(error.message);

/**
 * Call with a command's failure. A command that timed out on a connection that still looks
 * connected may mean Redis hangs (stopped process, partition, overload), or only that this
 * process was starved of the CPU: a command's timer then runs before its answer, already
 * received, is read. So the connection is probed (a PING to the server, to each master of a
 * cluster) with the same timeout; only when PROBES_TO_CONFIRM_HANG probes in a row go
 * unanswered is it dropped and reconnected. It then counts as down (redisDown) until Redis
 * answers again, and callers stop waiting on it after a few timeouts per connection instead of
 * one per request. A false alarm leaves the connection, its subscriptions and the commands in
 * flight on it alone.
 */
export function noteCommandFailure(redis: RedisClient, error: unknown): void {
  if (!timedOut(error) || redis.status !== "ready" || probing.has(redis)) return;
  probing.add(redis);
  void hangConfirmed(redis).then((hung) => {
    probing.delete(redis);
    if (hung && redis.status === "ready") {
      logger.warn("Redis commands time out and PING goes unanswered: reconnecting");
      redis.disconnect(true);
    }
  });
}

async function hangConfirmed(redis: RedisClient): Promise<boolean> {
  for (let probe = 0; probe < PROBES_TO_CONFIRM_HANG; probe++) {
    // After the event loop's poll phase: answers already received are read before a probe is timed.
    await new Promise((resolve) => setImmediate(resolve));
    if (redis.status !== "ready") return false;
    const servers = redis instanceof Cluster ? redis.nodes("master") : [redis];
    // Another failure (a closed connection) is no hang: the connection's own reconnection handles it.
    const answered = await Promise.all(
      servers.map((server) =>
        server.ping().then(
          () => true,
          (e) => !timedOut(e),
        ),
      ),
    );
    if (answered.every(Boolean)) return false;
  }
  return true;
}

/**
 * Listens for a connection's errors (without a listener ioredis prints each one), logs its
 * outage once, not on every reconnection attempt, and its recovery.
 */
function reportOutages(redis: RedisClient, name: string): RedisClient {
  const lost = (error?: Error) => {
    if (down.has(redis)) return;
    down.add(redis);
    logger.warn({ err: error, connection: name }, "Redis unavailable; retrying");
  };
  redis.on("error", lost);
  redis.on("close", () => {
    // A close we asked for (quit, disconnect) is not an outage.
    if (redis.status !== "end" && !closing.has(redis)) lost();
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
export async function closeRedis(redis: RedisClient, timeoutMs = 2_000): Promise<void> {
  closing.add(redis);
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

/**
 * Deletes every key matching a SCAN pattern (`*` for any run of characters), on each master of a
 * cluster; for cleaning up a namespace (REDIS_PREFIX) once nothing uses it. Keys are deleted
 * one per command, since a cluster refuses a command whose keys lie in different hash slots.
 * Returns how many were deleted.
 */
export async function deleteKeysMatching(redis: RedisClient, pattern: string): Promise<number> {
  await redis.ping(); // Connected, so that a cluster knows its masters.
  const servers = redis instanceof Cluster ? redis.nodes("master") : [redis];
  let deleted = 0;
  for (const server of servers) {
    for await (const keys of server.scanStream({ match: pattern, count: 1000 }) as AsyncIterable<string[]>) {
      if (keys.length === 0) continue;
      await server.pipeline(keys.map((key) => ["unlink", key])).exec();
      deleted += keys.length;
    }
  }
  return deleted;
}
