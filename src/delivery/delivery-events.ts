import { ConflictError } from "../errors.js";
import { recordConsumerEvents } from "../events/ingest.js";
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
export function recordDeliveryEvent(event: DeliveryEvent): Promise<void> {
  return recordDeliveryEvents([event]);
}

/**
 * Stores events on their consumers, one transaction per creator whatever their number (a
 * scheduler's batch of outcomes); a replayed idempotency key is a no-op. A key found with another
 * body (the provider changed its story) keeps the first one: that batch is then stored event by
 * event, so the others are not lost with it.
 */
export async function recordDeliveryEvents(events: DeliveryEvent[]): Promise<void> {
  const byCreator = new Map<string, DeliveryEvent[]>();
  for (const event of events) byCreator.set(event.creatorId, [...(byCreator.get(event.creatorId) ?? []), event]);
  for (const [creatorId, batch] of byCreator) {
    try {
      await recordConsumerEvents(
        creatorId,
        batch.map((event) => ({
          consumerId: event.consumerId,
          event: {
            type: event.type,
            payload: event.payload,
            // Ingestion refuses an occurredAt ahead of its clock: a provider's clock may run a little fast.
            occurredAt: new Date(Math.min(event.occurredAt.getTime(), Date.now())),
            idempotencyKey: event.idempotencyKey,
          },
        })),
      );
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      if (batch.length > 1) {
        for (const event of batch) await recordDeliveryEvents([event]);
        continue;
      }
      logger.info({ idempotencyKey: batch[0].idempotencyKey, type: batch[0].type }, "delivery event already recorded");
    }
  }
}
