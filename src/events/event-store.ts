import { contextFromJson } from "../consumers/context-store.js";
import { pool } from "../db/client.js";
import type { Sql } from "../db/transaction.js";
import type { ConsumerContext, Event, Prisma } from "../generated/prisma/client.js";

// Where an event stands in processing: processedAt once its agents ran (their failures, if any,
// are on the invocations), failedAt once running them failed for good before any invocation could
// hold the failure. An event with neither is the dispatch sweeper's to enqueue. Ingestion
// (ingest.ts) stores events through the functions at the end.

/** Marks these events processed, in one statement (the agent runs of a batch: agent-run.ts). */
export async function markEventsProcessed(eventIds: string[]): Promise<void> {
  await pool.query(`UPDATE events SET "processedAt" = now() WHERE id = ANY($1::uuid[])`, [eventIds]);
}

/**
 * Dead-letters events whose run failed for good (not an outage) with no invocation to hold the
 * failure, in one statement; a no-op for an event already processed, whose failures its
 * invocations record. Each `reason` is kept to 2,000 characters.
 */
export async function markEventsFailed(failures: { eventId: string; reason: string }[]): Promise<void> {
  await pool.query(
    `UPDATE events e SET "failedAt" = now(), "failureReason" = left(f.reason, 2000)
       FROM unnest($1::uuid[], $2::text[]) AS f(id, reason)
      WHERE e.id = f.id AND e."processedAt" IS NULL`,
    [failures.map((f) => f.eventId), failures.map((f) => f.reason)],
  );
}

/** The event, locked for the rest of the transaction; null when there is none. */
export async function findEventForUpdate(tx: Sql, eventId: string): Promise<Event | null> {
  const { rows } = await tx.query<Event>(`SELECT * FROM events WHERE id = $1 FOR UPDATE`, [eventId]);
  return rows[0] ?? null;
}

/**
 * Makes a processed or dead-lettered event the sweeper's again, in the caller's transaction: if
 * the enqueue that follows is lost, the sweeper runs it.
 */
export async function reopenEvent(tx: Sql, eventId: string): Promise<void> {
  await tx.query(`UPDATE events SET "processedAt" = NULL, "failedAt" = NULL, "failureReason" = NULL WHERE id = $1`, [
    eventId,
  ]);
}

/** An event to store; its id is chosen by the caller, so a batch can name its events before they exist. */
export type NewEvent = {
  id: string;
  consumerId: string;
  type: string;
  payload: Record<string, unknown>;
  occurredAt: Date;
  idempotencyKey: string | null;
  /** Hash of the request body behind the key (see ingest.ts bodyHash). */
  bodyHash: string | null;
};

/**
 * Inserts a batch in one statement; an event whose idempotency key the creator already used is
 * skipped, as is a key's second event within the batch. Returns the rows inserted (compare ids to
 * tell which). The partition of `receivedAt` must exist (coverReceivedAt, event-partitions.ts).
 *
 * A key is claimed in event_idempotency_keys before its event is inserted, in the same statement:
 * the claim's primary key is what makes a key unique per creator (a unique index on the
 * partitioned events table would hold within one month only), and a concurrent request claiming
 * the same key waits for this transaction, then skips its event, as ON CONFLICT DO NOTHING does.
 */
export async function insertEvents(tx: Sql, creatorId: string, receivedAt: Date, events: NewEvent[]): Promise<Event[]> {
  const col = <K extends keyof NewEvent>(k: K) => events.map((e) => e[k]);
  const { rows } = await tx.query<Event>(
    `WITH batch AS (
       SELECT * FROM unnest($3::uuid[], $4::uuid[], $5::text[], $6::jsonb[], $7::timestamptz[], $8::text[], $9::text[])
         AS e(id, consumer_id, type, payload, occurred_at, key, hash)
     ), claimed AS (
       INSERT INTO event_idempotency_keys ("creatorId", "idempotencyKey", "eventId", "eventReceivedAt")
       SELECT $1::uuid, key, id, $2::timestamptz FROM batch WHERE key IS NOT NULL
       ON CONFLICT DO NOTHING
       RETURNING "eventId"
     )
     INSERT INTO events (id, "creatorId", "consumerId", type, payload, "occurredAt", "receivedAt", "idempotencyKey", "bodyHash")
     SELECT id, $1::uuid, consumer_id, type, payload, occurred_at, $2::timestamptz, key, hash
       FROM batch
      WHERE key IS NULL OR id IN (SELECT "eventId" FROM claimed)
     RETURNING *`,
    [
      creatorId,
      receivedAt,
      col("id"),
      col("consumerId"),
      col("type"),
      events.map((e) => JSON.stringify(e.payload)),
      col("occurredAt"),
      col("idempotencyKey"),
      col("bodyHash"),
    ],
  );
  return rows;
}

/** The creator's events with these idempotency keys (through their claims: insertEvents). */
export async function eventsWithKeys(tx: Sql, creatorId: string, keys: string[]): Promise<Event[]> {
  const { rows } = await tx.query<Event>(
    `SELECT e.* FROM event_idempotency_keys k
       JOIN events e ON e.id = k."eventId" AND e."receivedAt" = k."eventReceivedAt"
      WHERE k."creatorId" = $1 AND k."idempotencyKey" = ANY($2)`,
    [creatorId, keys],
  );
  return rows;
}

/**
 * Keeps, with each newly stored keyed event, the context its ingestion answered, so a replay of
 * its key answers that context and not the one the consumer has by then. The events are of one
 * batch, all received at `receivedAt` (which confines the update to their partition). One
 * statement; each context serialised once.
 */
export async function storeContextSnapshots(
  tx: Sql,
  receivedAt: Date,
  snapshots: { eventId: string; context: ConsumerContext }[],
) {
  const json = new Map<ConsumerContext, string>();
  for (const { context } of snapshots) if (!json.has(context)) json.set(context, JSON.stringify(context));
  await tx.query(
    `UPDATE events e SET "contextSnapshot" = s.snapshot FROM unnest($1::uuid[], $2::jsonb[]) AS s(id, snapshot)
      WHERE e.id = s.id AND e."receivedAt" = $3`,
    [snapshots.map((s) => s.eventId), snapshots.map((s) => json.get(s.context)), receivedAt],
  );
}

/**
 * The context an event's ingestion answered, back in the row's shape (timestamps as Dates, with
 * creatorId and consumerId, which the GraphQL type needs to load the `consumer` relation). A
 * snapshot we did not write in this shape is a bug, not a client error: it throws.
 */
export function contextFromSnapshot(eventId: string, snapshot: Prisma.JsonValue): ConsumerContext {
  return contextFromJson(snapshot, `the context snapshot of event ${eventId}`);
}
