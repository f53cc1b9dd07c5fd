import { pool } from "../db/client.js";

/**
 * Stores the WhatsApp id (wa_id) WhatsApp gave for a consumer, in a send answer's contact or a
 * callback's `from`/`recipient_id`: the key inbound messages are matched by first. No write when
 * it is already stored (the common case: every send answer repeats it).
 */
export async function rememberWaId(consumerId: string, waId: string): Promise<void> {
  await pool.query(
    `UPDATE consumers SET "waId" = $2, "updatedAt" = now() WHERE id = $1 AND "waId" IS DISTINCT FROM $2`,
    [consumerId, waId],
  );
}
