import type { Sql } from "../db/transaction.js";

/** The consumer details an event can name, as ConsumerRefInput spells them. */
export type IdentityField = "externalId" | "email" | "phone" | "name" | "timezone";

/**
 * A detail an event offered for a consumer that the identity rules did not store (README,
 * "Consumer identity"): the stored one was kept, or another consumer holds the offered value.
 */
export type IdentityConflict = {
  /** The consumer the event was stored on. */
  consumerId: string;
  field: IdentityField;
  /** What the consumer kept: its stored value, null when it had none. */
  keptValue: string | null;
  offeredValue: string;
  /** The other consumer of the creator that holds the offered value; null when the value is simply different. */
  heldById: string | null;
};

/**
 * Records a batch's conflicts in `consumer_identity_conflicts`, in one statement on the caller's
 * transaction: a conflict seen before (same consumer, field and offered value) gains the new
 * occurrences, its lastSeenAt moves to now and its kept value and holder are refreshed.
 */
export async function recordIdentityConflicts(
  client: Sql,
  creatorId: string,
  conflicts: IdentityConflict[],
): Promise<void> {
  if (conflicts.length === 0) return;
  // One row per key: ON CONFLICT DO UPDATE may not touch a row twice in one statement, and a batch
  // that repeats a conflict counts each event.
  const rows = new Map<string, IdentityConflict & { occurrences: number }>();
  for (const conflict of conflicts) {
    const key = JSON.stringify([conflict.consumerId, conflict.field, conflict.offeredValue]);
    rows.set(key, { ...conflict, occurrences: (rows.get(key)?.occurrences ?? 0) + 1 });
  }
  // In key order, so concurrent batches lock the rows they share in one order (no deadlock).
  const sorted = [...rows].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, row]) => row);
  await client.query(
    `INSERT INTO consumer_identity_conflicts
       ("creatorId", "consumerId", field, "keptValue", "offeredValue", "heldById", occurrences)
     SELECT $1::uuid, * FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::uuid[], $7::int[])
     ON CONFLICT ("consumerId", field, "offeredValue") DO UPDATE SET
       occurrences = consumer_identity_conflicts.occurrences + excluded.occurrences,
       "lastSeenAt" = now(),
       "keptValue" = excluded."keptValue",
       "heldById" = excluded."heldById"`,
    [
      creatorId,
      sorted.map((c) => c.consumerId),
      sorted.map((c) => c.field),
      sorted.map((c) => c.keptValue),
      sorted.map((c) => c.offeredValue),
      sorted.map((c) => c.heldById),
      sorted.map((c) => c.occurrences),
    ],
  );
}
