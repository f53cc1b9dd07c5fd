import { recordAudit } from "../audit/audit-log.js";
import { CHANNELS } from "../creators/creator-service.js";
import { db } from "../db/client.js";
import { inTransaction, type Sql } from "../db/transaction.js";
import { publishActionChanges } from "../delivery/action-feed.js";
import { type CancelledAction, cancelPlannedMessages } from "../delivery/delivery-store.js";
import { NotFoundError, ValidationError } from "../errors.js";
import type { Channel, ConsentStatus } from "../generated/prisma/enums.js";
import type { Viewer } from "../viewer.js";
import { type ConsentChange, storeConsentChanges } from "./consent-store.js";
import { consentInput } from "./consumer-input.js";
import { leaveFunnel, reopenUnsubscribed } from "./context-store.js";

/**
 * Applies consent changes in the caller's transaction: the latest per (consumer, channel) wins,
 * whatever order they arrive in. A withdrawal that takes effect cancels the consumer's planned
 * messages on that channel (the delivery store): an opt-out is honoured at once. A grant that
 * takes effect brings an UNSUBSCRIBED consumer back to NEW.
 */
export async function applyConsentChanges(tx: Sql, changes: ConsentChange[]): Promise<CancelledAction[]> {
  const applied = await storeConsentChanges(tx, changes);
  await reopenUnsubscribed(
    tx,
    applied.filter((a) => a.status === "GRANTED").map((a) => a.consumerId),
  );
  return cancelPlannedMessages(
    tx,
    applied
      .filter((a) => a.status === "WITHDRAWN")
      .map((a) => ({ consumerId: a.consumerId, channel: a.channel, reason: `consent withdrawn (${a.source})` })),
  );
}

/** Tells the live action feed about messages a withdrawal cancelled; after the transaction commits. */
export async function announceCancellations(cancelled: CancelledAction[]): Promise<void> {
  await publishActionChanges(cancelled.map((a) => ({ ...a, status: "CANCELLED" as const })));
}

/** Which creator a consumer belongs to, for authorization; null when there is no such consumer. */
export async function creatorOfConsumer(consumerId: string): Promise<string | null> {
  const consumer = await db.consumer.findUnique({ where: { id: consumerId }, select: { creatorId: true } });
  return consumer?.creatorId ?? null;
}

export type ConsentResult = { consumerId: string; cancelledActionIds: string[] };

type ConsentCommand = {
  consumerId: string;
  channels: readonly Channel[];
  status: ConsentStatus;
  source: string;
  /** The audit log's name for it. */
  operation: string;
};

async function changeConsents(
  { consumerId, channels, status, source, operation }: ConsentCommand,
  actor: Viewer | null,
): Promise<ConsentResult> {
  const cancelled = await inTransaction(async (tx) => {
    const { rows } = await tx.query<{ creatorId: string }>(
      `SELECT "creatorId" FROM consumers WHERE id = $1 FOR SHARE`,
      [consumerId],
    );
    const consumer = rows[0];
    if (!consumer) throw new NotFoundError("Consumer", consumerId);
    const at = new Date();
    const cancelled = await applyConsentChanges(
      tx,
      channels.map((channel) => ({ consumerId, channel, status, source, at })),
    );
    // Opting out of everything leaves the funnel (src/consumers/stage.ts); a grant's way back is
    // applied with the consent itself.
    if (status === "WITHDRAWN" && channels.length === CHANNELS.length) await leaveFunnel(tx, consumerId, at);
    await recordAudit(tx, actor, {
      operation,
      creatorId: consumer.creatorId,
      targetType: "Consumer",
      targetId: consumerId,
      details: { channels: [...channels], status, source, cancelledActions: cancelled.map((a) => a.id) },
    });
    return cancelled;
  });
  await announceCancellations(cancelled);
  return { consumerId, cancelledActionIds: cancelled.map((a) => a.id) };
}

export async function setConsent(
  input: { consumerId: string; channel: Channel; granted: boolean; source?: string | null },
  actor: Viewer | null,
): Promise<ConsentResult> {
  const parsed = consentInput.safeParse(input);
  if (!parsed.success) throw ValidationError.fromZod(parsed.error);
  const { channel, granted, source } = parsed.data;
  return changeConsents(
    {
      consumerId: input.consumerId,
      channels: [channel],
      status: granted ? "GRANTED" : "WITHDRAWN",
      source,
      operation: granted ? "consent.grant" : "consent.withdraw",
    },
    actor,
  );
}

/** Withdraws consent on one channel, or on every channel, and cancels the planned actions there at once. */
export async function unsubscribeConsumer(
  consumerId: string,
  channel: Channel | null,
  actor: Viewer | null,
): Promise<ConsentResult> {
  return changeConsents(
    {
      consumerId,
      channels: channel ? [channel] : CHANNELS,
      status: "WITHDRAWN",
      source: "unsubscribe",
      operation: "consumer.unsubscribe",
    },
    actor,
  );
}
