import { getOperationAST } from "graphql";
import type { Plugin } from "graphql-yoga";
import { holdsApiKey } from "../auth/api-key-store.js";
import { config } from "../config.js";
import { primaryWalPosition, readReplica } from "../db/reads.js";
import type { RequestContext } from "../graphql/context.js";
import { logger } from "../logger.js";
import { noteCommandFailure, type RedisClient, redisDown } from "../redis.js";
import type { Viewer } from "../viewer.js";

// Which server an operation reads from when DATABASE_READ_URL names a read replica (README "Read
// replica"). Mutations and subscriptions read the primary, so a mutation's answer shows its write.
// A query reads the replica, unless its API key wrote something the replica may not have replayed
// yet (read-your-writes per key): after each mutation the primary's WAL position is remembered in
// Redis under the key, shared by every API instance, and a query of that key goes to the replica
// only once the replica has replayed that far (the rule of GitLab's database load balancing,
// "sticking"). Ingest keys read nothing a write changes (auth/ingest-selection.ts): their writes
// are not remembered. A key also reads the primary until the replica holds the key itself: a key
// made a moment ago (a creator's first key, minted right after the creator) must find what was
// written before it was made; once the replica has the key, it has all that (WAL order).

/**
 * How long a key's last write position is kept, in ms: far beyond the lag of a working replica
 * (milliseconds; seconds under heavy load). A replica further behind than that serves a key's
 * queries before it has the key's writes; its lag must be watched well below this.
 */
const WRITE_MEMORY_MS = 10 * 60_000;

/** Redis sorted set of one member ("at"), whose score is the key's last write position. */
const writeKey = (keyId: string) => `${config().REDIS_PREFIX}:read-your-writes:${keyId}`;

/** How many keys a process remembers the replica holds before it starts over (one query per key then). */
const KEYS_REMEMBERED = 100_000;

/**
 * The read routing plugin, on `redis` (a command connection, see redis.ts); does nothing without a
 * read replica, every operation then reading the primary (the context's default reads).
 */
export function readRouting(redis: RedisClient): Plugin<Record<string, unknown>, RequestContext> {
  const configured = readReplica();
  if (!configured) return {};
  const replica = configured;
  /** Keys seen on the replica: a key, once replayed, stays there. */
  const keysOnReplica = new Set<string>();

  /** Whether the replica holds the key (one query the first time this process asks). */
  async function replicaHoldsKey(keyId: string): Promise<boolean> {
    if (keysOnReplica.has(keyId)) return true;
    // Asked of the replica itself: the primary's answer (a fallback) would say nothing of it.
    if (!(await holdsApiKey(replica.replicaOnly, keyId).catch(() => false))) return false;
    if (keysOnReplica.size >= KEYS_REMEMBERED) keysOnReplica.clear();
    keysOnReplica.add(keyId);
    return true;
  }

  /** The key's last write position; null when none is remembered, undefined when Redis cannot say. */
  async function lastWrite(keyId: string): Promise<number | null | undefined> {
    if (redisDown(redis)) return undefined;
    try {
      const position = await redis.zscore(writeKey(keyId), "at");
      return position === null ? null : Number(position);
    } catch (error) {
      noteCommandFailure(redis, error);
      return undefined;
    }
  }

  /**
   * Whether a query of `viewer` may read the replica: it is up and not too far behind, holds the
   * key, and has what the key wrote (if Redis can tell).
   */
  async function replicaServes(viewer: Viewer | null): Promise<boolean> {
    if (!replica.available) return false;
    if (!viewer || viewer.kind === "INGEST") return true;
    const [position, holdsKey] = await Promise.all([lastWrite(viewer.keyId), replicaHoldsKey(viewer.keyId)]);
    if (position === undefined || !holdsKey) return false;
    return position === null || replica.hasReplayed(position);
  }

  /**
   * Remembers the primary's WAL position after a mutation of `keyId`, keeping the highest when
   * mutations of one key end on several instances at once (ZADD GT). A failure is logged: the
   * key's next queries may then read the replica before it has the write (Redis down makes them
   * read the primary, so this is an instant's failure between two outages).
   */
  async function rememberWrite(keyId: string): Promise<void> {
    try {
      const position = await primaryWalPosition();
      if (redisDown(redis)) return;
      const key = writeKey(keyId);
      await redis.multi().zadd(key, "GT", position, "at").pexpire(key, WRITE_MEMORY_MS).exec();
    } catch (error) {
      noteCommandFailure(redis, error);
      logger.warn({ err: error }, "a key's write position could not be remembered for read-your-writes");
    }
  }

  return {
    async onExecute({ args, extendContext }) {
      const ctx = args.contextValue as unknown as RequestContext;
      const operation = getOperationAST(args.document, args.operationName)?.operation;
      if (operation === "query") {
        if (await replicaServes(ctx.viewer)) extendContext({ reads: replica.reads });
        return;
      }
      const writer = ctx.viewer;
      if (operation === "mutation" && writer && writer.kind !== "INGEST") {
        // After the whole operation, answer included: its writes have committed.
        return { onExecuteDone: () => rememberWrite(writer.keyId) };
      }
    },
  };
}
