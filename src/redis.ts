import { setTimeout as sleep } from "node:timers/promises";
import { Cluster, type ClusterOptions, Command, Redis, type RedisOptions, ReplyError } from "ioredis";
import { config, redactUrlCredentials, redisNodes } from "./config.js";
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
 * Options of a Cluster client seeded with `redisUrl`'s nodes (REDIS_URL, comma-separated): its
 * per-node options are `redisOptions`, `options` with the credentials and TLS (rediss://) of the
 * first node, which config.ts checks every node shares. A TLS cluster also gets a `dnsLookup` that
 * keeps host names as they are: ioredis otherwise resolves a startup node's name to its address
 * and connects to that, and the node's certificate, issued for the name, fails verification
 * against the address (ioredis README, "AWS ElastiCache Clusters with TLS"). Node checks a
 * certificate against the host dialled when no `servername` is given, so none is set: one fixed
 * name would be checked against every node's certificate. `lazyConnect` and
 * `enableAutoPipelining` are the cluster's own options; the rest of `options` apply per node.
 */
export function clusterOptions(redisUrl: string, name: string, options: RedisOptions): ClusterOptions {
  const first = new URL(redisNodes(redisUrl)[0]);
  const tls = first.protocol === "rediss:";
  const { lazyConnect, enableAutoPipelining, ...nodeOptions } = options;
  return {
    lazyConnect,
    enableAutoPipelining,
    ...(tls ? { dnsLookup: keepHostName } : {}),
    redisOptions: { connectionName: name, ...credentialsOf(first), ...(tls ? { tls: {} } : {}), ...nodeOptions },
  };
}

/** A cluster's `dnsLookup` that connects to a host by its name, as given or announced. */
const keepHostName: NonNullable<ClusterOptions["dnsLookup"]> = (hostname, callback) => callback(null, hostname);

/** The username and password a Redis URL gives, decoded; none for those it leaves out. */
function credentialsOf(url: URL): Pick<RedisOptions, "username" | "password"> {
  return {
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
  };
}

/**
 * Opens a connection named `name` with these options: a Redis of REDIS_URL, or with REDIS_CLUSTER a
 * Cluster seeded with REDIS_URL's nodes (see clusterOptions).
 */
function connect(name: string, options: RedisOptions): RedisClient {
  const { REDIS_URL, REDIS_CLUSTER } = config();
  if (!REDIS_CLUSTER) return new Redis(REDIS_URL, { connectionName: name, ...options });
  return new TimedCluster(redisNodes(REDIS_URL), clusterOptions(REDIS_URL, name, options));
}

/**
 * What is wrong with REDIS_CLUSTER for the Redis that REDIS_URL names, or null when they agree.
 * `clusterEnabled` is the server's `cluster_enabled` (INFO cluster: 1 for a node of a Redis
 * Cluster); `clusterConfigured` is REDIS_CLUSTER's effective value (config().REDIS_CLUSTER: set,
 * or implied by several nodes in REDIS_URL). The answer names the setting to change.
 */
export function redisModeProblem(clusterEnabled: boolean, clusterConfigured: boolean): string | null {
  if (clusterEnabled && !clusterConfigured) {
    return "REDIS_URL names a node of a Redis Cluster (cluster_enabled:1), which Closer takes for a single Redis: commands on keys of other nodes would fail (MOVED). Set REDIS_CLUSTER=true, or list the cluster's nodes in REDIS_URL";
  }
  if (!clusterEnabled && clusterConfigured) {
    return "REDIS_URL names a single Redis, not a Redis Cluster (cluster_enabled:0), but REDIS_CLUSTER=true or REDIS_URL lists several nodes: every command would fail. Unset REDIS_CLUSTER and give REDIS_URL the one URL of that Redis";
  }
  return null;
}

/** How long the mode check waits for a node to connect and to answer. */
const MODE_CHECK_TIMEOUT_MS = 2_000;

/**
 * Whether the Redis that REDIS_URL names runs as a Redis Cluster: `cluster_enabled` of INFO
 * cluster, asked of its nodes in REDIS_URL's order (first answer wins) on a short-lived connection
 * of its own (with the credentials and TLS that `connect` gives each node). Resolves undefined when
 * no node could be reached (an outage, not an answer); null when a node answered without telling
 * (INFO refused, e.g. an ACL user without +info, or a server or proxy that has no such field).
 */
export async function probeRedisMode(): Promise<boolean | null | undefined> {
  const { REDIS_URL, REDIS_CLUSTER } = config();
  const probe: RedisOptions = {
    connectionName: "closer-mode-check",
    lazyConnect: true,
    connectTimeout: MODE_CHECK_TIMEOUT_MS,
    commandTimeout: MODE_CHECK_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  };
  const nodes = REDIS_CLUSTER ? redisNodes(REDIS_URL) : [REDIS_URL];
  const first = new URL(nodes[0]);
  for (const node of nodes) {
    const { hostname, port } = new URL(node);
    const redis = REDIS_CLUSTER
      ? new Redis({
          host: hostname.replace(/^\[(.*)\]$/, "$1"),
          port: Number(port || 6379),
          ...credentialsOf(first),
          ...(first.protocol === "rediss:" ? { tls: {} } : {}),
          ...probe,
        })
      : new Redis(node, probe);
    redis.on("error", () => {}); // Reported by the rejected command below.
    try {
      const enabled = /^cluster_enabled:(\d)/m.exec(await redis.info("cluster"))?.[1];
      return enabled === undefined ? null : enabled === "1";
    } catch (error) {
      if (error instanceof ReplyError) return null;
    } finally {
      redis.disconnect();
    }
  }
  return undefined;
}

/** The process's mode check: not begun, under way, or done (an answer came, or Redis could not tell). */
let modeCheck: "pending" | "running" | "done" = "pending";

/**
 * Checks once per process, when a connection first comes up, that REDIS_CLUSTER agrees with the
 * Redis that REDIS_URL names (probeRedisMode). A disagreement is a configuration error, which no
 * reconnection cures: it is logged (redisModeProblem names the setting to change) and the process
 * exits with code 1, as for a bad setting at start (loadConfigOrExit); `npm start` restarts it
 * with its backoff, logging the error each time. A Redis that cannot be reached is no answer:
 * the check runs again at a connection's next ready (or, for a cluster, its next error, since a
 * cluster client on a single Redis never becomes ready). Costs nothing per command.
 */
function checkRedisMode(): void {
  if (modeCheck !== "pending") return;
  modeCheck = "running";
  void probeRedisMode().then((enabled) => {
    modeCheck = enabled === undefined ? "pending" : "done";
    if (enabled === null)
      logger.warn("Could not tell whether Redis runs as a Redis Cluster (INFO cluster): not checked");
    const problem = typeof enabled === "boolean" ? redisModeProblem(enabled, config().REDIS_CLUSTER) : null;
    if (!problem) return;
    logger.fatal({ REDIS_URL: redactUrlCredentials(config().REDIS_URL) }, problem);
    process.exit(1);
  });
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

const timedOut = (error: unknown): boolean => error instanceof Error && /Command timed out/.test(error.message);

/**
 * Call with a command's failure. A command that timed out on a connection that still looks
 * connected may mean Redis hangs (stopped process, partition, overload), or only that this
 * process was starved of the CPU: a command's timer then runs before its answer, already
 * received, is read. So the connection is probed (a PING to the server, to each master of a
 * cluster, answersPing) within the same timeout; only when one goes unanswered is it dropped and
 * reconnected. It then counts as down (redisDown) until Redis answers again, and callers stop
 * waiting on it after about two timeouts per connection instead of one per request. A false
 * alarm leaves the connection, its subscriptions and the commands in flight on it alone.
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
  if (redis.status !== "ready") return false;
  const servers = redis instanceof Cluster ? redis.nodes("master") : [redis];
  const timeoutMs = config().REDIS_COMMAND_TIMEOUT_MS;
  return !(await Promise.all(servers.map((server) => answersPing(server, timeoutMs)))).every(Boolean);
}

/**
 * Whether `server` answers a PING within `timeoutMs` (ms), timed here rather than by the
 * connection's commandTimeout: the verdict comes after the event loop's poll phase that follows
 * the timer, so an answer received while this process was starved of the CPU is read first, and
 * only a Redis that did not answer in time is found silent. A failure (a closed connection)
 * counts as an answer: no hang, the connection's own reconnection handles it.
 */
async function answersPing(server: Redis, timeoutMs: number): Promise<boolean> {
  const ping = new Command("ping");
  ping.setTimeout = () => {}; // Timed below.
  let settled = false;
  const settle = () => {
    settled = true;
  };
  ping.promise.then(settle, settle);
  server.sendCommand(ping);
  await sleep(timeoutMs);
  await new Promise((resolve) => setImmediate(resolve));
  return settled;
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
  redis.on("error", (error: Error) => {
    lost(error);
    // A cluster client on a single Redis fails at every attempt and is never ready.
    if (redis instanceof Cluster) checkRedisMode();
  });
  redis.on("close", () => {
    // A close we asked for (quit, disconnect) is not an outage.
    if (redis.status !== "end" && !closing.has(redis)) lost();
  });
  redis.on("ready", () => {
    checkRedisMode();
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
