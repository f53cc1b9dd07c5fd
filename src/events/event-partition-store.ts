import { escapeIdentifier } from "pg";
import { pool } from "../db/client.js";
import { inTransaction, type Sql } from "../db/transaction.js";

// The events table is range-partitioned by month of "receivedAt" (migration events_partitioned).
//
// Why receivedAt: the server sets it at ingestion (ingest.ts storeBatch), so new rows always land
// in the newest partition, and a month once past receives nothing more and can be dropped whole;
// occurredAt is the client's, may lie years back, and would scatter writes over old months.
//
// Why a month: retention is at least a year (config.ts MIN_EVENT_RETENTION_DAYS), and most reads
// of events cannot name a receivedAt (by event id: agent runs, the timeline, retries; by
// occurredAt: analytics, an agent's look at a consumer's history), so they visit every partition,
// an index probe each, and planning grows with the partitions too: by month that is 13 to 16
// partitions, by day it would be 365 and more. As for size: the bench's ceiling is about 1,200
// agent runs a second per worker (README "Performance"); a deployment taking a tenth of that all
// month long stores some 300 million events a month, a partition PostgreSQL indexes and vacuums
// well. One far past that would shorten the interval (to a week), not lengthen it.
//
// No DEFAULT partition: a month made while the default holds rows of it would have to move them
// (refused while invocations refer to them), and DETACH ... CONCURRENTLY is refused with one.
// Instead, a month is made before any row can need it (event-partitions.ts: the worker, months
// ahead, and ingestion itself for the month it writes in, should the worker not have run).

/** One partition of events and the receipts it holds, [from, to); null for MINVALUE (the first one). */
export type EventPartition = { name: string; from: Date | null; to: Date | null; detachPending: boolean };

/** Deleted per statement when a month is dropped, so no one statement runs long or holds much. */
const DELETE_BATCH = 5_000;
/** The comment retention puts on a partition before detaching it: the table is its to drop. */
const RETENTION_MARK = "closer: dropped by event retention";

/** How long making or dropping a partition waits for a lock on the tables it touches before giving up. */
const LOCK_TIMEOUT = "5s";

/** Advisory locks (pg_advisory_lock keys, hashed from these names) of making and of dropping. */
const MAKING = "closer:event-partitions:make";
const DROPPING = "closer:event-partitions:drop";

/** The start of the month (UTC) `months` after the one holding `at`. */
export function monthStart(at: Date, months = 0): Date {
  return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + months, 1));
}

/** The name of the partition of the month starting at `month`: events_p2026_12. */
export function partitionName(month: Date): string {
  return `events_p${month.getUTCFullYear()}_${String(month.getUTCMonth() + 1).padStart(2, "0")}`;
}

/** Whether `partition` holds the receipts of the instant `at`. */
export function holds(partition: EventPartition, at: Date): boolean {
  return (partition.from === null || partition.from <= at) && (partition.to === null || at < partition.to);
}

/** The partitions of events, oldest first (bounds read from the catalog, whatever their names). */
export async function eventPartitions(sql: Sql = pool): Promise<EventPartition[]> {
  const bound = (i: number) =>
    `CASE WHEN b[${i}] = 'MINVALUE' OR b[${i}] = 'MAXVALUE' THEN NULL ELSE btrim(b[${i}], '''')::timestamptz END`;
  const { rows } = await sql.query<EventPartition>(
    `SELECT c.relname AS name, ${bound(1)} AS "from", ${bound(2)} AS "to", i.inhdetachpending AS "detachPending"
       FROM pg_inherits i
       JOIN pg_class c ON c.oid = i.inhrelid
      CROSS JOIN LATERAL regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \\((.*)\\) TO \\((.*)\\)') AS r(b)
      WHERE i.inhparent = 'events'::regclass
      ORDER BY 2 NULLS FIRST`,
  );
  return rows;
}

/**
 * Makes the partition of every month from the one holding `from` to the one holding `through`
 * (UTC) that no partition holds yet; answers the names made. Safe when several processes do it
 * at once: they take turns (a transaction-scoped advisory lock), and each finds what the others
 * made. A partition is made as CREATE TABLE ... (LIKE events INCLUDING ALL), then ATTACHed, which
 * locks events in SHARE UPDATE EXCLUSIVE mode (reads and writes go on), where CREATE TABLE ...
 * PARTITION OF would lock it ACCESS EXCLUSIVE; LIKE copies the extended statistics a partition
 * would not inherit. Throws what PostgreSQL raises, a lock not had within LOCK_TIMEOUT included.
 */
export async function makeEventPartitions(from: Date, through: Date): Promise<string[]> {
  // A deadlock with a transaction writing the tables the new partition's foreign keys lock
  // (consumers, creators, agent_invocations) loses one of the two: either is retried.
  return inTransaction(
    async (tx) => {
      await tx.query(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`);
      await tx.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [MAKING]);
      const existing = await eventPartitions(tx);
      const made: string[] = [];
      for (let month = monthStart(from); month <= through; month = monthStart(month, 1)) {
        if (existing.some((p) => holds(p, month))) continue;
        const name = escapeIdentifier(partitionName(month));
        await tx.query(`CREATE TABLE ${name} (LIKE events INCLUDING ALL)`);
        await tx.query(
          `ALTER TABLE events ATTACH PARTITION ${name}
             FOR VALUES FROM ('${month.toISOString()}') TO ('${monthStart(month, 1).toISOString()}')`,
        );
        made.push(partitionName(month));
      }
      return made;
    },
    { attempts: 3 },
  );
}

/**
 * Drops every partition wholly before `cutoff` (its upper bound at or before it); answers the
 * names dropped. Its rows are deleted first, DELETE_BATCH at a time: the foreign keys' cascades
 * delete what refers to them (their agent invocations and idempotency keys; the invocations'
 * actions are kept, their invocation reference nulled: sentBy, not the run, tells a person's
 * message from an agent's), and PostgreSQL refuses to detach a
 * partition anything still refers to. Then it is detached CONCURRENTLY (reads and writes of
 * events go on meanwhile) and dropped. One process drops at a time (a session advisory lock,
 * tried: while another process holds it this answers []). `signal` stops it between statements:
 * a month half deleted is finished by the next run, a detach left pending by a crash is
 * finalised, a table detached but not dropped is dropped. Throws RangeError for an invalid
 * `cutoff`, and what PostgreSQL raises.
 */
export async function dropEventPartitionsBefore(cutoff: Date, signal?: AbortSignal): Promise<string[]> {
  // An invalid date compares false with everything: every partition would look past it.
  if (Number.isNaN(cutoff.getTime())) throw new RangeError(`not a date to drop event partitions before: ${cutoff}`);
  const client = await pool.connect();
  try {
    const { rows } = await client.query<{ locked: boolean }>(`SELECT pg_try_advisory_lock(hashtext($1)) AS locked`, [
      DROPPING,
    ]);
    if (!rows[0].locked) return [];
    await client.query(`SET lock_timeout = '${LOCK_TIMEOUT}'`);
    const dropped: string[] = [];
    for (const name of await detachedLeftovers(client)) {
      await client.query(`DROP TABLE ${escapeIdentifier(name)}`);
      dropped.push(name);
    }
    for (const partition of await eventPartitions(client)) {
      if (partition.to === null || partition.to > cutoff) continue;
      const name = escapeIdentifier(partition.name);
      for (;;) {
        if (signal?.aborted) return dropped;
        const { rowCount } = await client.query(
          `DELETE FROM ${name} WHERE ctid = ANY(ARRAY(SELECT ctid FROM ${name} LIMIT ${DELETE_BATCH}))`,
        );
        if (!rowCount) break;
      }
      // Marked first: a drop stopped after its detach leaves a table the next run knows for its own.
      await client.query(`COMMENT ON TABLE ${name} IS '${RETENTION_MARK}'`);
      await client.query(
        `ALTER TABLE events DETACH PARTITION ${name} ${partition.detachPending ? "FINALIZE" : "CONCURRENTLY"}`,
      );
      await client.query(`DROP TABLE ${name}`);
      dropped.push(partition.name);
    }
    return dropped;
  } finally {
    // Closed, not pooled: that releases the session's lock and setting whatever happened.
    client.release(true);
  }
}

/**
 * Tables named as event partitions, beside events, no longer attached and marked by retention: a
 * drop stopped after its detach. A month someone else detached (to archive it) is not marked, and
 * is left alone.
 */
async function detachedLeftovers(sql: Sql): Promise<string[]> {
  const { rows } = await sql.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_class c
      WHERE c.relkind = 'r' AND NOT c.relispartition
        AND c.relnamespace = (SELECT relnamespace FROM pg_class WHERE oid = 'events'::regclass)
        AND c.relname ~ '^events_p(_initial|[0-9]{4}_[0-9]{2})$'
        AND obj_description(c.oid, 'pg_class') = $1`,
    [RETENTION_MARK],
  );
  return rows.map((r) => r.name);
}
