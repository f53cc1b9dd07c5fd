import { ConflictError } from "../errors.js";
import { recordConsumerEvent } from "../events/ingest.js";
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

/** Stores the event on its consumer; a replayed idempotency key is a no-op. */
export async function recordDeliveryEvent(event: DeliveryEvent): Promise<void> {
  // Ingestion refuses an occurredAt ahead of its clock: a provider's clock may run a little fast.
  const occurredAt = new Date(Math.min(event.occurredAt.getTime(), Date.now()));
  try {
    await recordConsumerEvent(event.creatorId, event.consumerId, {
      type: event.type,
      payload: event.payload,
      occurredAt,
      idempotencyKey: event.idempotencyKey,
    });
  } catch (error) {
    // The same provider id with another body: the provider changed its story, the first one stands.
    if (!(error instanceof ConflictError)) throw error;
    logger.info({ idempotencyKey: event.idempotencyKey, type: event.type }, "delivery event already recorded");
  }
}
