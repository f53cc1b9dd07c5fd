import { pool } from "../db/client.js";
import type { CallbackItemOutcome } from "../generated/prisma/enums.js";

// The whatsapp_callback_items table: every item of a signed WhatsApp notification, recorded
// before the notification is answered, then settled with its outcome once processed. An item is
// processed by whoever holds its claim (the request that recorded it, a retry, or the worker's
// sweep once the claim has run out), so two deliveries of one notification never process it twice.

/** An item to record: a status or an inbound message, with what processing needs besides it. */
export type NewCallbackItem = {
  /** "status:<wamid>:<status>", "message:<wamid>", or "invalid:<sha256>" for an unreadable one. */
  itemKey: string;
  kind: "status" | "message" | "invalid";
  /** The receiving business number (the notification's metadata.phone_number_id). */
  phoneNumberId: string | null;
  /** JSON text of { item, contact? }: the item as Meta sent it and the contact it names (see storableJson). */
  body: string;
};

export type PendingCallbackItem = Omit<NewCallbackItem, "body"> & {
  id: string;
  body: unknown;
  attempts: number;
  receivedAt: Date;
};

export type Settlement = { outcome: CallbackItemOutcome; reason: string | null; creatorIds: string[] };

const COLUMNS = `id, "itemKey", kind, "phoneNumberId", body, attempts, "receivedAt"`;
/** SQL for "now plus the claim", the claim's length in ms being query parameter number `param`. */
const claimUntil = (param: number) => `now() + make_interval(secs => $${param}::double precision / 1000)`;

/**
 * Records a notification's items in one statement and claims for `claimMs` those to process, in
 * the order given: the new ones, and those an earlier delivery recorded but left pending whose
 * claim has run out (a crash or an outage in between). Items settled, or claimed by a delivery
 * still at work, are not returned: Meta's redelivery adds nothing.
 */
export async function recordCallbackItems(items: NewCallbackItem[], claimMs: number): Promise<PendingCallbackItem[]> {
  if (items.length === 0) return [];
  const { rows } = await pool.query<PendingCallbackItem>(
    `WITH ins AS (
         INSERT INTO whatsapp_callback_items ("itemKey", kind, "phoneNumberId", body, "claimedUntil")
         SELECT key, kind, pn, body, ${claimUntil(5)} FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[]) AS i(key, kind, pn, body)
         ON CONFLICT ("itemKey") DO NOTHING
         RETURNING ${COLUMNS}
       ), resumed AS (
         UPDATE whatsapp_callback_items SET "claimedUntil" = ${claimUntil(5)}
          WHERE "itemKey" = ANY($1) AND outcome IS NULL AND "claimedUntil" < now()
         RETURNING ${COLUMNS}
       )
       SELECT * FROM ins UNION ALL SELECT * FROM resumed`,
    [
      items.map((i) => i.itemKey),
      items.map((i) => i.kind),
      items.map((i) => i.phoneNumberId),
      items.map((i) => i.body),
      claimMs,
    ],
  );
  const order = new Map(items.map((item, i) => [item.itemKey, i]));
  return rows.sort((a, b) => (order.get(a.itemKey) ?? 0) - (order.get(b.itemKey) ?? 0));
}

/** Records an item's outcome (and counts the attempt). */
export async function settleCallbackItem(id: string, settlement: Settlement): Promise<void> {
  await pool.query(
    `UPDATE whatsapp_callback_items
        SET outcome = $2, reason = $3, "creatorIds" = $4, "processedAt" = now(), attempts = attempts + 1,
            "claimedUntil" = NULL
      WHERE id = $1`,
    [id, settlement.outcome, settlement.reason, settlement.creatorIds],
  );
}

/** Claims for `claimMs` up to `limit` pending items whose claim has run out, oldest first. */
export async function claimAbandonedCallbackItems(limit: number, claimMs: number): Promise<PendingCallbackItem[]> {
  const { rows } = await pool.query<PendingCallbackItem>(
    `UPDATE whatsapp_callback_items SET "claimedUntil" = ${claimUntil(2)}
        WHERE id IN (SELECT id FROM whatsapp_callback_items
                      WHERE outcome IS NULL AND "claimedUntil" < now()
                      ORDER BY "receivedAt" LIMIT $1 FOR UPDATE SKIP LOCKED)
        RETURNING ${COLUMNS}`,
    [limit, claimMs],
  );
  return rows.sort((a, b) => a.receivedAt.getTime() - b.receivedAt.getTime());
}

/** An UNROUTED or FAILED item back to pending, claimed for `claimMs` by an admin's retry; null for any other. */
export async function reopenCallbackItem(id: string, claimMs: number): Promise<PendingCallbackItem | null> {
  const { rows } = await pool.query<PendingCallbackItem>(
    `UPDATE whatsapp_callback_items SET outcome = NULL, reason = NULL, "processedAt" = NULL, "claimedUntil" = ${claimUntil(2)}
        WHERE id = $1 AND outcome IN ('UNROUTED', 'FAILED')
        RETURNING ${COLUMNS}`,
    [id, claimMs],
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
