import type { PoolClient } from "pg";
import { publishActionChanges } from "../actions/action-feed.js";
import { recordAudit } from "../audit/audit-log.js";
import type { Viewer } from "../auth/viewer.js";
import { CHANNELS } from "../creators/creator-service.js";
import { db, type Tx } from "../db/client.js";
import { NotFoundError, ValidationError } from "../errors.js";
import type { Channel, ConsentStatus } from "../generated/prisma/enums.js";
import { consentInput } from "./consumer-input.js";

export type ConsentChange = {
  consumerId: string;
  channel: Channel;
  status: ConsentStatus;
  /** How it was given or withdrawn: "signup_form", "unsubscribe_link", "api"... */
  source: string;
  at: Date;
};

export type CancelledAction = { id: string; creatorId: string; consumerId: string; channel: Channel };

/** Runs one SQL statement in the caller's transaction, be it a pg client's (ingestion) or Prisma's (mutations). */
export type SqlRunner = <Row>(text: string, values: unknown[]) => Promise<Row[]>;

export const pgRunner =
  (client: PoolClient): SqlRunner =>
  async <Row>(text: string, values: unknown[]) =>
    (await client.query(text, values)).rows as Row[];

export const prismaRunner =
  (tx: Tx): SqlRunner =>
  <Row>(text: string, values: unknown[]) =>
    tx.$queryRawUnsafe<Row[]>(text, ...values);

/**
 * Applies consent changes; the latest per (consumer, channel) wins, whatever order they arrive in.
 * A withdrawal that takes effect cancels the consumer's planned actions on that channel in the
 * same statement: an opt-out is honoured at once, including for messages already planned. (An
 * action a scheduler has already claimed is stopped by the consent check at send time.) A grant
 * that takes effect brings an UNSUBSCRIBED consumer back to NEW.
 */
export async function applyConsentChanges(run: SqlRunner, changes: ConsentChange[]): Promise<CancelledAction[]> {
  if (changes.length === 0) return [];
  const col = <K extends keyof ConsentChange>(k: K) => changes.map((c) => c[k]);
  return run<CancelledAction>(
    `WITH applied AS (
       INSERT INTO consumer_consents AS cc ("consumerId", channel, status, source, "changedAt")
       SELECT DISTINCT ON (1, 2) * FROM unnest($1::uuid[], $2::"Channel"[], $3::"ConsentStatus"[], $4::text[], $5::timestamptz[])
       ORDER BY 1, 2, 5 DESC
       ON CONFLICT ("consumerId", channel) DO UPDATE SET status = EXCLUDED.status, source = EXCLUDED.source,
         "changedAt" = EXCLUDED."changedAt"
       WHERE cc."changedAt" <= EXCLUDED."changedAt"
       RETURNING "consumerId", channel, status, source
     ),
     -- New consent is what brings an unsubscribed consumer back into the funnel (stage.ts).
     regained AS (
       UPDATE consumer_contexts c SET stage = 'NEW', "updatedAt" = now()
         FROM applied g
        WHERE g.status = 'GRANTED' AND c."consumerId" = g."consumerId" AND c.stage = 'UNSUBSCRIBED'
     )
     UPDATE actions a SET status = 'CANCELLED', "statusReason" = 'consent withdrawn (' || w.source || ')', "updatedAt" = now()
       FROM applied w
      WHERE w.status = 'WITHDRAWN' AND a."consumerId" = w."consumerId" AND a.channel = w.channel AND a.status = 'PLANNED'
     RETURNING a.id, a."creatorId", a."consumerId", a.channel`,
    [col("consumerId"), col("channel"), col("status"), col("source"), col("at")],
  );
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
  const cancelled = await db.$transaction(async (tx) => {
    const consumer = await tx.consumer.findUnique({ where: { id: consumerId }, select: { creatorId: true } });
    if (!consumer) throw new NotFoundError("Consumer", consumerId);
    const at = new Date();
    const cancelled = await applyConsentChanges(
      prismaRunner(tx),
      channels.map((channel) => ({ consumerId, channel, status, source, at })),
    );
    // Opting out of everything leaves the funnel (src/consumers/stage.ts); a grant's way back is
    // applied with the consent itself.
    if (status === "WITHDRAWN" && channels.length === CHANNELS.length) {
      await tx.consumerContext.updateMany({ where: { consumerId }, data: { stage: "UNSUBSCRIBED", updatedAt: at } });
    }
    await recordAudit(tx, actor, {
      operation,
      creatorId: consumer.creatorId,
      targetType: "Consumer",
      targetId: consumerId,
      details: { channels: [...channels], status, source, cancelledActions: cancelled.map((a) => a.id) },
    });
    return cancelled;
  });
  await publishActionChanges(cancelled.map((a) => ({ ...a, status: "CANCELLED" as const })));
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
