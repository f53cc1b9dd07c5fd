import { pool } from "../db/client.js";
import type { CallbackItemOutcome } from "../generated/prisma/enums.js";

// The whatsapp_callback_items table: every item of a signed WhatsApp notification, recorded
// before the notification is answered, then settled with its outcome once processed.

/** An item to record: a status or an inbound message, with what processing needs besides it. */
export type NewCallbackItem = {
  /** "status:<wamid>:<status>", "message:<wamid>", or "invalid:<sha256>" for an unreadable item. */
  itemKey: string;
  kind: "status" | "message";
  /** The receiving business number (the notification's metadata.phone_number_id). */
  phoneNumberId: string | null;
  /** { item, contact? }: the item as Meta sent it and the contact it names. */
  body: unknown;
};

export type PendingCallbackItem = NewCallbackItem & { id: string; attempts: number; receivedAt: Date };

export type Settlement = { outcome: CallbackItemOutcome; reason: string | null; creatorIds: string[] };

const COLUMNS = `id, "itemKey", kind, "phoneNumberId", body, attempts, "receivedAt"`;

/** PostgreSQL's jsonb cannot hold U+0000: it is replaced, the rest of the text kept. */
const storable = (value: unknown) =>
  JSON.stringify(value, (_key, v) => (typeof v === "string" ? v.replaceAll("\u0000", "\uFFFD") : v));

/**
 * Records a notification's items in one statement and returns those to process, in the order
 * given: the new ones, and those an earlier delivery recorded but left pending (a crash or an
 * outage in between). Items already settled are not returned: Meta's redelivery adds nothing.
 */
export async function recordCallbackItems(items: NewCallbackItem[]): Promise<PendingCallbackItem[]> {
  if (items.length === 0) return [];
  const { rows } = await pool.query<PendingCallbackItem>(
    `WITH ins AS (
       INSERT INTO whatsapp_callback_items ("itemKey", kind, "phoneNumberId", body)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[])
       ON CONFLICT ("itemKey") DO NOTHING
       RETURNING ${COLUMNS}
     )
     SELECT * FROM ins
     UNION ALL
     SELECT ${COLUMNS} FROM whatsapp_callback_items WHERE "itemKey" = ANY($1) AND outcome IS NULL`,
    [
      items.map((i) => i.itemKey),
      items.map((i) => i.kind),
      items.map((i) => i.phoneNumberId),
      items.map((i) => storable(i.body)),
    ],
  );
  const order = new Map(items.map((item, i) => [item.itemKey, i]));
  return rows.sort((a, b) => (order.get(a.itemKey) ?? 0) - (order.get(b.itemKey) ?? 0));
}

/** Records an item's outcome (and counts the attempt). */
export async function settleCallbackItem(id: string, settlement: Settlement): Promise<void> {
  await pool.query(
    `UPDATE whatsapp_callback_items
        SET outcome = $2, reason = $3, "creatorIds" = $4, "processedAt" = now(), attempts = attempts + 1
      WHERE id = $1`,
    [id, settlement.outcome, settlement.reason, settlement.creatorIds],
  );
}

/** Items left pending for `olderThanMs` (their request crashed or met an outage), oldest first. */
export async function pendingCallbackItems(olderThanMs: number, limit: number): Promise<PendingCallbackItem[]> {
  const { rows } = await pool.query<PendingCallbackItem>(
    `SELECT ${COLUMNS} FROM whatsapp_callback_items
      WHERE outcome IS NULL AND "receivedAt" < now() - make_interval(secs => $1::double precision / 1000)
      ORDER BY "receivedAt" LIMIT $2`,
    [olderThanMs, limit],
  );
  return rows;
}

/** An UNROUTED or FAILED item back to pending, for an admin's retry; null for any other. */
export async function reopenCallbackItem(id: string): Promise<PendingCallbackItem | null> {
  const { rows } = await pool.query<PendingCallbackItem>(
    `UPDATE whatsapp_callback_items SET outcome = NULL, reason = NULL, "processedAt" = NULL
      WHERE id = $1 AND outcome IN ('UNROUTED', 'FAILED')
      RETURNING ${COLUMNS}`,
    [id],
  );
  return rows[0] ?? null;
}

/** Deletes settled items received more than `retentionDays` ago; returns how many. */
export async function pruneCallbackItems(retentionDays: number): Promise<number> {
  const { rowCount } = await pool.query(
    `DELETE FROM whatsapp_callback_items
      WHERE "receivedAt" < now() - make_interval(days => $1) AND outcome IS NOT NULL`,
    [retentionDays],
  );
  return rowCount ?? 0;
}
