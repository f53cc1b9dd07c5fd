import { z } from "zod";
import type { Sql } from "../db/transaction.js";
import type { ConsumerContext } from "../generated/prisma/client.js";
import { type Channel, Stage } from "../generated/prisma/enums.js";
import type { ContextDelta } from "./context-delta.js";

// The consumer_contexts table: what events (their deltas, context-delta.ts), consent and
// delivery change in a consumer's context.

/**
 * The statement that adds deltas to contexts: counters add up in SQL (no read-modify-write), the
 * stage moves by closer_next_stage, lastSeenAt only forward. Exported for the benchmark's plain-pg
 * baseline, which writes exactly the same.
 */
export const CONTEXT_UPSERT = `
INSERT INTO consumer_contexts AS c ("creatorId", "consumerId", stage, "lastSeenAt", "eventCount", "pageViews",
  "serviceClicks", "emailsOpened", "whatsappReplied", objections, enrolled, counters, attributes)
SELECT $1::uuid, d.* FROM unnest($2::uuid[], $3::"Stage"[], $4::timestamptz[], $5::int[], $6::int[], $7::int[], $8::int[],
  $9::int[], $10::int[], $11::bool[], $12::jsonb[], $13::jsonb[]) AS d
ORDER BY 1
ON CONFLICT ("creatorId", "consumerId") DO UPDATE SET
  stage = closer_next_stage(c.stage, EXCLUDED.stage),
  "lastSeenAt" = GREATEST(c."lastSeenAt", EXCLUDED."lastSeenAt"),
  "eventCount" = c."eventCount" + EXCLUDED."eventCount",
  "pageViews" = c."pageViews" + EXCLUDED."pageViews",
  "serviceClicks" = c."serviceClicks" + EXCLUDED."serviceClicks",
  "emailsOpened" = c."emailsOpened" + EXCLUDED."emailsOpened",
  "whatsappReplied" = c."whatsappReplied" + EXCLUDED."whatsappReplied",
  objections = c.objections + EXCLUDED.objections,
  enrolled = c.enrolled OR EXCLUDED.enrolled,
  counters = closer_add_counters(c.counters, EXCLUDED.counters),
  attributes = c.attributes || EXCLUDED.attributes,
  "updatedAt" = now()
RETURNING c.*`;

/** The parameters of CONTEXT_UPSERT for these deltas (sort them by consumer: lock order). */
export function contextUpsertParams(creatorId: string, deltas: ContextDelta[]): unknown[] {
  const col = <K extends keyof ContextDelta>(k: K) => deltas.map((d) => d[k]);
  return [
    creatorId,
    col("consumerId"),
    col("stage"),
    col("lastSeenAt"),
    col("eventCount"),
    col("pageViews"),
    col("serviceClicks"),
    col("emailsOpened"),
    col("whatsappReplied"),
    col("objections"),
    col("enrolled"),
    deltas.map((d) => JSON.stringify(d.counters)),
    deltas.map((d) => JSON.stringify(d.attributes)),
  ];
}

/**
 * Adds each delta to its consumer's context (created if missing), in one statement; sort the
 * deltas by consumer id (the lock order concurrent batches share). Returns the contexts after.
 */
export async function applyContextDeltas(
  tx: Sql,
  creatorId: string,
  deltas: ContextDelta[],
): Promise<ConsumerContext[]> {
  const { rows } = await tx.query<ConsumerContext>(CONTEXT_UPSERT, contextUpsertParams(creatorId, deltas));
  return rows;
}

/** The creator's consumers' contexts, as they stand. */
export async function contextsOf(tx: Sql, creatorId: string, consumerIds: string[]): Promise<ConsumerContext[]> {
  const { rows } = await tx.query<ConsumerContext>(
    `SELECT * FROM consumer_contexts WHERE "creatorId" = $1 AND "consumerId" = ANY($2)`,
    [creatorId, consumerIds],
  );
  return rows;
}

/** New consent brings an unsubscribed consumer back into the funnel, at NEW (stage.ts). */
export async function reopenUnsubscribed(tx: Sql, consumerIds: string[]): Promise<void> {
  if (consumerIds.length === 0) return;
  await tx.query(
    `UPDATE consumer_contexts SET stage = 'NEW', "updatedAt" = now()
      WHERE "consumerId" = ANY($1::uuid[]) AND stage = 'UNSUBSCRIBED'`,
    [consumerIds],
  );
}

/** Opting out of every channel leaves the funnel (stage.ts). */
export async function leaveFunnel(tx: Sql, consumerId: string, at: Date): Promise<void> {
  await tx.query(`UPDATE consumer_contexts SET stage = 'UNSUBSCRIBED', "updatedAt" = $2 WHERE "consumerId" = $1`, [
    consumerId,
    at,
  ]);
}

/**
 * Counts messages sent to consumers (emails and WhatsApp messages; webhooks are not messages to
 * the person), in the transaction that marks them sent, in one statement: several to one consumer
 * add up, and lastMessageAt only moves forward.
 */
export async function countMessagesSent(
  tx: Sql,
  sent: { consumerId: string; channel: Channel; sentAt: Date }[],
): Promise<void> {
  const messages = sent.filter((m) => m.channel === "EMAIL" || m.channel === "WHATSAPP");
  if (messages.length === 0) return;
  await tx.query(
    `UPDATE consumer_contexts cc SET
            "emailsSent" = cc."emailsSent" + s.emails,
            "whatsappSent" = cc."whatsappSent" + s.whatsapp,
            "lastMessageAt" = GREATEST(cc."lastMessageAt", s.last),
            "updatedAt" = now()
       FROM (SELECT consumer,
                    count(*) FILTER (WHERE channel = 'EMAIL')::int AS emails,
                    count(*) FILTER (WHERE channel = 'WHATSAPP')::int AS whatsapp,
                    max(at) AS last
               FROM unnest($1::uuid[], $2::"Channel"[], $3::timestamptz[]) AS m(consumer, channel, at)
              GROUP BY consumer) s
      WHERE cc."consumerId" = s.consumer`,
    [messages.map((m) => m.consumerId), messages.map((m) => m.channel), messages.map((m) => m.sentAt)],
  );
}

/** A timestamp in a context read as JSON (to_jsonb, JSON.stringify): ISO 8601 with its offset. */
const jsonDate = z.iso.datetime({ offset: true }).transform((iso) => new Date(iso));

/** A consumer_contexts row as JSON: the one place its timestamps are parsed back into Dates. */
const contextJson = z.object({
  creatorId: z.string(),
  consumerId: z.string(),
  stage: z.enum(Stage),
  lastSeenAt: jsonDate.nullable(),
  eventCount: z.int(),
  pageViews: z.int(),
  serviceClicks: z.int(),
  emailsSent: z.int(),
  emailsOpened: z.int(),
  whatsappSent: z.int(),
  whatsappReplied: z.int(),
  objections: z.int(),
  enrolled: z.boolean(),
  counters: z.json(),
  attributes: z.json(),
  lastMessageAt: jsonDate.nullable(),
  createdAt: jsonDate,
  updatedAt: jsonDate,
});

/**
 * A context row read as JSON (a snapshot, or to_jsonb in a larger query), in the row's shape. JSON
 * that is not such a row is damaged data, not a client's error: throws naming `what`.
 */
export function contextFromJson(json: unknown, what: string): ConsumerContext {
  const parsed = contextJson.safeParse(json);
  if (!parsed.success) throw new Error(`${what} is not a consumer context`, { cause: parsed.error });
  return parsed.data;
}
