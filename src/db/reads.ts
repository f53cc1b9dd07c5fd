import pg, { type QueryResultRow } from "pg";
import { config } from "../config.js";
import type { PrismaClient } from "../generated/prisma/client.js";
import { logger } from "../logger.js";
import { isOutage } from "../outages.js";
import { db, openPool, pool, prismaOver } from "./client.js";
import { inTransaction, type Sql } from "./transaction.js";

// Where GraphQL reads go: the primary (DATABASE_URL), or for read-only queries a streaming replica
// (DATABASE_READ_URL); api/read-routing.ts chooses per operation (README "Read replica"). Nothing
// can write through a Reads: its Prisma has the read methods only, and its SQL has `read` where
// store functions that write take a `query`; types, so this holds with or without a replica. A
// replica would refuse a write anyway.

/** Prisma's methods that only read. */
type ReadMethod =
  | "findUnique"
  | "findUniqueOrThrow"
  | "findFirst"
  | "findFirstOrThrow"
  | "findMany"
  | "count"
  | "aggregate"
  | "groupBy";

/** The models of the Prisma client (`db.creator`, `db.event`...): its members not named `$...`. */
type Model = Exclude<keyof PrismaClient, `$${string}` | symbol>;

/**
 * Prisma with each model's read methods only: a write through it does not compile. `$connect` is
 * all Pothos asks of the client it loads nodes and relations with (graphql/builder.ts).
 */
export type ReadDb = { readonly [M in Model]: Pick<PrismaClient[M], ReadMethod> } & Pick<PrismaClient, "$connect">;

/** Raw SQL that reads: the rows of one statement. */
export type ReadSql = {
  read<Row extends QueryResultRow = QueryResultRow>(text: string, values?: unknown[]): Promise<Row[]>;
};

/** What an operation reads through: one server's Prisma and SQL (see the top of this file). */
export type Reads = {
  readonly db: ReadDb;
  readonly sql: ReadSql;
  /** Runs `work`'s statements in one READ ONLY, REPEATABLE READ transaction: one snapshot. */
  snapshot<T>(work: (sql: ReadSql) => Promise<T>): Promise<T>;
};

function readerOf(sql: Sql): ReadSql {
  return {
    read: async <Row extends QueryResultRow>(text: string, values?: unknown[]) =>
      (await sql.query<Row>(text, values)).rows,
  };
}

function snapshotOn<T>(on: pg.Pool, work: (sql: ReadSql) => Promise<T>): Promise<T> {
  return inTransaction(
    async (tx) => {
      await tx.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
      return work(readerOf(tx));
    },
    { on },
  );
}

/**
 * The primary's reads: those of every operation when DATABASE_READ_URL is unset (the same `db` and
 * `pool` as everything else), and of mutations and subscriptions always.
 */
export const primaryReads: Reads = {
  db,
  sql: readerOf(pool),
  snapshot: (work) => snapshotOn(pool, work),
};

/**
 * The primary's WAL position now, in bytes from 0/0 (pg_current_wal_lsn()): past the commit of
 * every transaction that has returned. As a number, exact up to 2^53 bytes (8 PiB) of WAL.
 */
export async function primaryWalPosition(): Promise<number> {
  const { rows } = await pool.query<{ position: string }>(
    "SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::text AS position",
  );
  return Number(rows[0].position);
}

/** How often a replica taken for away is tried again, with one trivial statement. */
const PROBE_INTERVAL_MS = 1_000;

/** How often the replica's replay is checked against the primary's WAL (DATABASE_READ_MAX_LAG_MS). */
const LAG_CHECK_INTERVAL_MS = 1_000;

/**
 * SQLSTATEs a hot standby cancels a query with when it conflicts with the WAL it replays
 * (PostgreSQL docs, "Hot Standby", Handling Query Conflicts): the primary has no such conflict.
 */
const RECOVERY_CONFLICTS = new Set(["40001", "40P01"]);

/**
 * The read replica's pool. A statement goes to the replica, and to the primary's pool instead
 * while the replica is taken for away, when the replica cannot be reached (an outage, isOutage:
 * the replica is then taken for away), or when the replica cancelled it for a conflict with its
 * replay: a read never fails for the replica's sake. The first failure is logged, then the replica
 * is tried every PROBE_INTERVAL_MS until it answers, which is logged too.
 * A replica that answers but has fallen behind is no better for readers than one away: every
 * LAG_CHECK_INTERVAL_MS the primary's WAL position is noted, and while the replica has not replayed
 * the position of DATABASE_READ_MAX_LAG_MS ago (replication stopped, or a replay far behind) its
 * statements go to the primary too; both changes are logged.
 */
class ReplicaPool extends pg.Pool {
  readonly reads: Reads;
  private readonly prisma: PrismaClient;
  private away = false;
  private lagging = false;
  /**
   * Whether DATABASE_READ_URL is a standby (pg_last_wal_replay_lsn() not null), as the last lag
   * check found; undefined before the first. Only a standby can tell what it has replayed.
   */
  private standby: boolean | undefined;
  private closed = false;
  private probe: NodeJS.Timeout | undefined;
  private readonly lagCheck: NodeJS.Timeout;
  /** The primary's WAL positions (bytes) noted by the lag check, oldest first, with when (ms). */
  private readonly primaryPositions: { at: number; position: number }[] = [];
  /**
   * The highest WAL position (bytes) the replica was seen to have replayed. Forgotten when a
   * connection opens: a replica that restarted may show less than it had replayed before.
   */
  private replayed = 0;

  constructor(settings: pg.PoolConfig) {
    super(settings);
    this.on("connect", () => {
      this.replayed = 0;
    });
    this.lagCheck = setInterval(() => void this.checkLag(), LAG_CHECK_INTERVAL_MS).unref();
    void this.checkLag(); // At once: nothing is read from it before it is known to be a standby.
    this.prisma = prismaOver(this);
    this.reads = {
      db: this.prisma,
      sql: readerOf(this),
      snapshot: (work) =>
        this.readOrFallBack(
          () => snapshotOn(this, work),
          () => snapshotOn(pool, work),
        ),
    };
  }

  /**
   * Reads on the replica itself, never on the primary: a failure is thrown, not answered by the
   * primary. For questions about the replica (does it hold this row yet?).
   */
  readonly replicaOnly: ReadSql = {
    read: async <Row extends QueryResultRow>(text: string, values?: unknown[]) =>
      ((await this.own(values ? [text, values] : [text])) as pg.QueryResult<Row>).rows,
  };

  /** Whether statements go to the replica now: false while it is taken for away or too far behind. */
  get available(): boolean {
    return !this.away && !this.lagging && this.standby === true;
  }

  // Both forms of pg.Pool#query: Prisma's adapter and readerOf use the promise one.
  override query(...args: unknown[]): never {
    const callback =
      typeof args.at(-1) === "function" ? (args.pop() as (error: unknown, result?: unknown) => void) : null;
    const answer = this.readOrFallBack(
      () => this.own(args),
      () => (pool.query as (...a: unknown[]) => Promise<unknown>).apply(pool, args),
    );
    if (!callback) return answer as never;
    answer.then(
      (result) => callback(null, result),
      (error) => callback(error),
    );
    return undefined as never;
  }

  /** A statement on the replica itself, never on the primary. */
  private own(args: unknown[]): Promise<pg.QueryResult> {
    return (pg.Pool.prototype.query as (...a: unknown[]) => Promise<pg.QueryResult>).apply(this, args);
  }

  /** `onReplica`'s answer, or `onPrimary`'s where the class's docstring says. */
  private async readOrFallBack<T>(onReplica: () => Promise<T>, onPrimary: () => Promise<T>): Promise<T> {
    if (!this.available) return onPrimary();
    try {
      return await onReplica();
    } catch (error) {
      if (isOutage(error)) this.takeForAway(error);
      else if (!RECOVERY_CONFLICTS.has((error as { code?: string }).code ?? "")) throw error;
      return onPrimary();
    }
  }

  /**
   * Whether the replica has replayed the primary's WAL up to `position` (primaryWalPosition), so
   * that it holds every transaction committed before that position was taken. False while it is
   * away or cannot say; one statement on the replica unless an earlier answer settles it.
   */
  async hasReplayed(position: number): Promise<boolean> {
    if (!this.available) return false;
    if (this.replayed >= position) return true;
    try {
      await this.readReplayPosition();
    } catch (error) {
      if (isOutage(error)) this.takeForAway(error);
      return false;
    }
    return this.replayed >= position;
  }

  /** Reads how far the replica has replayed into `replayed`, and answers it (bytes). */
  private async readReplayPosition(): Promise<number | null> {
    const { rows } = await this.own(["SELECT (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::text AS replayed"]);
    // Null on a server that is not a standby: it cannot be told to hold any write.
    const replayed = rows[0]?.replayed;
    if (replayed == null) return null;
    this.replayed = Math.max(this.replayed, Number(replayed));
    return this.replayed;
  }

  /**
   * One lag check (see the class's docstring). The primary's position is noted while the replica
   * is away too, so that a replica coming back is held to it (scheduleProbe). A primary that does
   * not answer leaves things as they are.
   */
  private async checkLag(): Promise<void> {
    if (this.closed) return;
    const now = Date.now();
    try {
      this.primaryPositions.push({ at: now, position: await primaryWalPosition() });
    } catch (error) {
      logger.debug({ err: error }, "read replica lag not checked: the primary did not answer");
      return;
    }
    // Keep the newest position at least DATABASE_READ_MAX_LAG_MS old, and those after it.
    const since = now - config().DATABASE_READ_MAX_LAG_MS;
    while (this.primaryPositions.length > 1 && this.primaryPositions[1].at <= since) this.primaryPositions.shift();
    if (this.away) return;
    let behind: boolean;
    try {
      behind = await this.behind();
    } catch (error) {
      if (isOutage(error)) this.takeForAway(error);
      return;
    }
    this.setLagging(behind);
  }

  /**
   * Whether the replica has not yet replayed the primary's position of DATABASE_READ_MAX_LAG_MS
   * ago (false before any is that old). Throws what the replica raises.
   */
  private async behind(): Promise<boolean> {
    const replayed = await this.readReplayPosition();
    this.noteStandby(replayed !== null);
    const due = this.primaryPositions[0];
    if (replayed === null || !due || due.at > Date.now() - config().DATABASE_READ_MAX_LAG_MS) return false;
    return replayed < due.position;
  }

  /** Records whether the server is a standby, logging a change (an error when it is not one). */
  private noteStandby(standby: boolean): void {
    if (standby === this.standby) return;
    const first = this.standby === undefined;
    this.standby = standby;
    if (!standby) {
      logger.error(
        "DATABASE_READ_URL is not a streaming replica (pg_last_wal_replay_lsn() is null): its reads go to the primary",
      );
    } else if (!first) {
      logger.info("DATABASE_READ_URL is a streaming replica again: read-only queries go to it");
    }
  }

  private setLagging(behind: boolean): void {
    if (behind === this.lagging) return;
    this.lagging = behind;
    if (behind) {
      logger.warn(
        {
          maxLagMs: config().DATABASE_READ_MAX_LAG_MS,
          replayed: this.replayed,
          due: this.primaryPositions[0]?.position,
        },
        "read replica too far behind (DATABASE_READ_MAX_LAG_MS): its reads go to the primary until it catches up",
      );
    } else {
      logger.info("read replica caught up: read-only queries go to it");
    }
  }

  private takeForAway(error: unknown): void {
    this.replayed = 0;
    if (this.away) return;
    this.away = true;
    logger.warn({ err: error }, "read replica unavailable: its reads go to the primary until it answers again");
    this.scheduleProbe();
  }

  private scheduleProbe(): void {
    this.probe = setTimeout(async () => {
      let behind: boolean;
      try {
        // Back, but perhaps still replaying what it missed: held to the lag bound before it serves.
        behind = await this.behind();
      } catch (error) {
        logger.debug({ err: error }, "read replica still unavailable");
        if (!this.closed) this.scheduleProbe();
        return;
      }
      this.setLagging(behind);
      this.away = false;
      logger.info("read replica available again: read-only queries go to it");
    }, PROBE_INTERVAL_MS);
    this.probe.unref();
  }

  /** Stops probing and closes Prisma's and the pool's connections. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.probe);
    clearInterval(this.lagCheck);
    await this.prisma.$disconnect();
    await this.end().catch(() => {});
  }
}

let replica: ReplicaPool | null | undefined;

/**
 * The read replica of DATABASE_READ_URL, connected at its first statement; null when unset. Its
 * `reads`, `available` and `hasReplayed` are what api/read-routing.ts routes with.
 */
export function readReplica(): ReplicaPool | null {
  if (replica === undefined) {
    const url = config().DATABASE_READ_URL;
    replica = url ? openPool(url, ReplicaPool, "replica") : null;
  }
  return replica;
}

/** Closes the read replica's connections, if it was opened. */
export async function closeReadReplica(): Promise<void> {
  await replica?.close();
}
