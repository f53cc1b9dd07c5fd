import type { Sql } from "../db/transaction.js";
import type { Channel, ConsentStatus } from "../generated/prisma/enums.js";

// The consumer_consents table: one row per consumer and channel, the latest change.

export type ConsentChange = {
  consumerId: string;
  channel: Channel;
  status: ConsentStatus;
  /** How it was given or withdrawn: "signup_form", "unsubscribe_link", "api"... */
  source: string;
  at: Date;
};

/** A change that took effect. */
export type AppliedConsent = Omit<ConsentChange, "at">;

/**
 * Stores consent changes; the latest per (consumer, channel) wins, whatever order they arrive in
 * (a change older than the stored one is ignored), and at the same instant a withdrawal wins (an
 * event saying "granted" while its message says "stop" is an opt-out). Returns the changes that
 * took effect.
 */
export async function storeConsentChanges(tx: Sql, changes: ConsentChange[]): Promise<AppliedConsent[]> {
  if (changes.length === 0) return [];
  const col = <K extends keyof ConsentChange>(k: K) => changes.map((c) => c[k]);
  const { rows } = await tx.query<AppliedConsent>(
    `INSERT INTO consumer_consents AS cc ("consumerId", channel, status, source, "changedAt")
     SELECT DISTINCT ON (u.consumer, u.channel) u.consumer, u.channel, u.status, u.source, u.at
       FROM unnest($1::uuid[], $2::"Channel"[], $3::"ConsentStatus"[], $4::text[], $5::timestamptz[])
         AS u(consumer, channel, status, source, at)
     ORDER BY u.consumer, u.channel, u.at DESC, (u.status = 'WITHDRAWN') DESC
     ON CONFLICT ("consumerId", channel) DO UPDATE SET status = EXCLUDED.status, source = EXCLUDED.source,
       "changedAt" = EXCLUDED."changedAt"
     WHERE cc."changedAt" < EXCLUDED."changedAt"
        OR (cc."changedAt" = EXCLUDED."changedAt" AND (cc.status = EXCLUDED.status OR EXCLUDED.status = 'WITHDRAWN'))
     RETURNING "consumerId", channel, status, source`,
    [col("consumerId"), col("channel"), col("status"), col("source"), col("at")],
  );
  return rows;
}
