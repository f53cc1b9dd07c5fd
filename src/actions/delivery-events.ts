import { pool } from "../db/client.js";
import { ConflictError } from "../errors.js";
import { ingestEvents } from "../events/ingest.js";
import { logger } from "../logger.js";

// Delivery outcomes become ordinary events on the consumer (email_delivered, whatsapp_read,
// whatsapp_replied...), so the context counts them and the agent runs on them like on any other.

export type DeliveryEvent = {
  creatorId: string;
  consumerId: string;
  type: string;
  payload: Record<string, unknown>;
  occurredAt: Date;
  /** Built from the provider's ids: a callback delivered twice stores one event. */
  idempotencyKey: string;
};

type ConsumerIdentity = { externalId: string | null; email: string | null; phone: string | null };

/** Stores the event through ingestion; a replayed idempotency key is a no-op. */
export async function recordDeliveryEvent(event: DeliveryEvent): Promise<void> {
  const { rows } = await pool.query<ConsumerIdentity>(
    `SELECT "externalId", email, phone FROM consumers WHERE id = $1 AND "creatorId" = $2`,
    [event.consumerId, event.creatorId],
  );
  if (rows.length === 0) return; // The consumer was deleted since.
  const { externalId, email, phone } = rows[0];
  // Ingestion refuses an occurredAt ahead of its clock: a provider's clock may run a little fast.
  const occurredAt = new Date(Math.min(event.occurredAt.getTime(), Date.now()));
  try {
    await ingestEvents(
      event.creatorId,
      [
        {
          consumer: { externalId, email, phone },
          type: event.type,
          payload: event.payload,
          occurredAt,
          idempotencyKey: event.idempotencyKey,
        },
      ],
      null,
    );
  } catch (error) {
    // The same provider id with another body: the provider changed its story, the first one stands.
    if (!(error instanceof ConflictError)) throw error;
    logger.info({ idempotencyKey: event.idempotencyKey, type: event.type }, "delivery event already recorded");
  }
}
