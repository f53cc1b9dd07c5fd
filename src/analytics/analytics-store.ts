import { MAX_ENROLMENT_AMOUNT } from "../consumers/event-effects.js";
import type { ReadSql, Reads } from "../db/reads.js";
import type { ActionStatus, Channel, Stage } from "../generated/prisma/enums.js";

// A creator's analytics over a time range, read in four set-based statements (the model is
// documented on analyticsOf in analytics-service.ts). Their count is fixed; their cost grows with
// the rows in the range, so each runs under a statement timeout (readAnalytics). Read-only.

/**
 * How long one analytics statement may run, in milliseconds, before PostgreSQL cancels it. A
 * year of a creator with 300,000 events and 200,000 sent messages takes about 2 s in all (the
 * longest statement 1.5 s) on a 2-core machine; far beyond that, the range is too big for a
 * request, and the connection is wanted by other work.
 */
export const STATEMENT_TIMEOUT_MS = 10_000;

/**
 * How long after the range's end a message's outcomes (delivered, read, replied) are still
 * counted: 90 days, the longest attribution window. Without a bound, a range long past would read
 * every reply since; with it, the statement reads at most the range and 90 days after it.
 */
export const OUTCOME_HORIZON_HOURS = 2160;

/** A statement ran past STATEMENT_TIMEOUT_MS and was cancelled: the range holds too many rows. */
export class AnalyticsTimeoutError extends Error {
  constructor() {
    super(`An analytics statement ran longer than ${STATEMENT_TIMEOUT_MS} ms`);
  }
}

/** SQLSTATE query_canceled (PostgreSQL docs, Appendix A): raised when statement_timeout fires. */
const QUERY_CANCELED = "57014";

/**
 * Runs `work`'s statements on one connection of `reads` (the read replica's for a query), in one
 * read-only REPEATABLE READ transaction (one snapshot: the four statements' numbers agree), each
 * statement cancelled after STATEMENT_TIMEOUT_MS (AnalyticsTimeoutError). JIT is off: these
 * statements' cost estimates cross jit_above_cost, and compiling took 0.7 s of a 2.5 s statement
 * (EXPLAIN ANALYZE) that runs in 1.5 s without it.
 */
export async function readAnalytics<T>(reads: Reads, work: (sql: ReadSql) => Promise<T>): Promise<T> {
  try {
    return await reads.snapshot(async (sql) => {
      // set_config(..., true) is SET LOCAL: for this transaction only.
      await sql.read("SELECT set_config('statement_timeout', $1, true), set_config('jit', 'off', true)", [
        String(STATEMENT_TIMEOUT_MS),
      ]);
      return work(sql);
    });
  } catch (error) {
    if ((error as { code?: string }).code === QUERY_CANCELED) throw new AnalyticsTimeoutError();
    throw error;
  }
}

/** Who wrote a message: the creator's agent, or a person through sendMessage (`actions.sentBy` set). */
export type MessageSender = "AGENT" | "PERSON";

/**
 * What groups messages in the breakdown: the sender and channel; for the agent's, the rule of the
 * decision that planned it (`agent_invocations.decision.rule`), the message's kind
 * (`actions.payload.template`, e.g. "welcome", "follow_up:<service>") and the approved WhatsApp
 * template it went as (`payload.whatsAppTemplate.name`), each null when absent. A person's
 * messages form one group per channel, with all three null.
 */
export type MessageKind = {
  sender: MessageSender;
  channel: Channel;
  rule: string | null;
  template: string | null;
  whatsAppTemplate: string | null;
};

/** Consumers first seen in the range (`consumers.createdAt`), by current stage and whether they ever enrolled. */
export type FunnelRow = { stage: Stage; enrolled: boolean; consumers: number };

/** Actions planned in the range (`actions.createdAt`), by channel and status, webhooks included. */
export type PlannedRow = { channel: Channel; status: ActionStatus; count: number };

/** Email and WhatsApp messages sent in the range, per kind, with how many were delivered, read and replied to. */
export type SentRow = MessageKind & { sent: number; delivered: number; read: number; replied: number };

/**
 * Enrolments in the range per kind of the message they are attributed to (all kind fields null:
 * not attributed) and per currency (null: no known amount): how many, and their amount in major
 * units of that currency (0 when the currency is null).
 */
export type ConversionRow = { [K in keyof MessageKind]: MessageKind[K] | null } & {
  currency: string | null;
  conversions: number;
  amount: number;
};

/** The range (UTC instants, `from` included, `to` excluded) and the attribution window. */
export type AnalyticsRange = { from: Date; to: Date; attributionWindowHours: number };

/** The channels whose actions are messages to a consumer (a webhook is a call to the creator's systems). */
const MESSAGE_CHANNELS = `('EMAIL', 'WHATSAPP')`;

/**
 * The kind columns of action `a` planned by invocation `i` (LEFT JOINed), as MessageKind's fields.
 * `a` may be a row of nulls (an enrolment no message is attributed to): every column is then null.
 */
const kindColumns = (a: string, i: string) => `
  CASE WHEN ${a}.id IS NULL THEN NULL WHEN ${a}."sentBy" IS NOT NULL THEN 'PERSON' ELSE 'AGENT' END AS sender,
  ${a}.channel::text AS channel,
  CASE WHEN ${a}."sentBy" IS NULL THEN ${i}.decision ->> 'rule' END AS rule,
  CASE WHEN ${a}."sentBy" IS NULL THEN ${a}.payload ->> 'template' END AS template,
  CASE WHEN ${a}."sentBy" IS NULL THEN ${a}.payload -> 'whatsAppTemplate' ->> 'name' END AS "whatsAppTemplate"`;

/**
 * The decision of the invocation that planned action `a`, looked up by its primary key. LIMIT 1
 * keeps it a per-row lookup: as a plain join the planner hashes the whole agent_invocations table.
 */
const decisionOf = (a: string) => `SELECT decision FROM agent_invocations WHERE id = ${a}."invocationId" LIMIT 1`;

/** Consumers first seen in the range, by stage and enrolment, on consumers (creatorId, createdAt). */
export async function funnelRows(sql: ReadSql, creatorId: string, range: AnalyticsRange): Promise<FunnelRow[]> {
  // A consumer made without a context (never through ingestion) has had no event: NEW.
  return sql.read<FunnelRow>(
    `SELECT COALESCE(x.stage, 'NEW') AS stage, COALESCE(x.enrolled, false) AS enrolled, count(*)::int AS consumers
       FROM consumers c LEFT JOIN consumer_contexts x ON x."creatorId" = c."creatorId" AND x."consumerId" = c.id
      WHERE c."creatorId" = $1 AND c."createdAt" >= $2 AND c."createdAt" < $3
      GROUP BY 1, 2`,
    [creatorId, range.from, range.to],
  );
}

/** Actions planned in the range by channel and status, on actions (creatorId, createdAt). */
export async function plannedRows(sql: ReadSql, creatorId: string, range: AnalyticsRange): Promise<PlannedRow[]> {
  return sql.read<PlannedRow>(
    `SELECT channel, status, count(*)::int AS count FROM actions
      WHERE "creatorId" = $1 AND "createdAt" >= $2 AND "createdAt" < $3
      GROUP BY 1, 2`,
    [creatorId, range.from, range.to],
  );
}

/**
 * Messages (email, WhatsApp) with status SENT and `sentAt` in the range, per kind:
 * - delivered: an outcome event on the same consumer names it (`payload.actionId`): on email
 *   `email_delivered` (the SMTP server accepted it) or `email_opened`; on WhatsApp
 *   `whatsapp_delivered` or `whatsapp_read`. Found on the expression index events_outcome_action.
 * - read: `email_opened` (email; only an open whose payload names the message, e.g. from a tracking
 *   pixel built from its Message-ID `<actionId@...>`) or `whatsapp_read` names it.
 * - replied: a consumer's message on its channel (`email_replied`, `whatsapp_replied`) is
 *   attributed to the SENT message it quotes (WhatsApp `payload.inReplyTo` = our provider message
 *   id), else to the last one sent to that consumer on that channel at or before it (actions
 *   (consumerId, channel, sentAt)); a message counts once however many replies it got.
 * Outcomes count when they arrive before OUTCOME_HORIZON_HOURS after the range's end: after the
 * range too, and a reply is read from the range's start to that bound only.
 */
export async function sentRows(sql: ReadSql, creatorId: string, range: AnalyticsRange): Promise<SentRow[]> {
  return sql.read<SentRow>(
    `WITH sent AS (
       SELECT a.* FROM actions a
        WHERE a."creatorId" = $1 AND a."sentAt" >= $2 AND a."sentAt" < $3
          AND a.status = 'SENT' AND a.channel IN ${MESSAGE_CHANNELS}
     ),
     outcome AS (
       SELECT s.id, bool_or(e.type IN ('email_opened', 'whatsapp_read')) AS read
         FROM sent s
         JOIN events e
           ON (e.payload ->> 'actionId') = s.id::text AND e."consumerId" = s."consumerId" AND e."creatorId" = $1
          AND e.type IN ('email_delivered', 'email_opened', 'whatsapp_delivered', 'whatsapp_read')
          AND (e.type LIKE 'email%') = (s.channel = 'EMAIL')
          AND e."occurredAt" < $3::timestamptz + make_interval(hours => $4)
        GROUP BY s.id
     ),
     replied AS (
       SELECT DISTINCT target.id
         FROM events r
         CROSS JOIN LATERAL (
           SELECT t.id FROM (
             (SELECT q.id, 0 AS preference FROM actions q
               WHERE q."providerMessageId" = r.payload ->> 'inReplyTo' AND q."consumerId" = r."consumerId"
                 AND q.channel = 'WHATSAPP' AND r.type = 'whatsapp_replied' AND q.status = 'SENT')
             UNION ALL
             (SELECT l.id, 1 FROM actions l
               WHERE l."consumerId" = r."consumerId"
                 AND l.channel = (CASE r.type WHEN 'email_replied' THEN 'EMAIL' ELSE 'WHATSAPP' END)::"Channel"
                 AND l."sentAt" <= r."occurredAt" AND l.status = 'SENT'
               ORDER BY l."sentAt" DESC, l.id DESC LIMIT 1)
           ) t ORDER BY t.preference LIMIT 1
         ) target
        WHERE r."creatorId" = $1 AND r.type IN ('email_replied', 'whatsapp_replied')
          AND r."occurredAt" >= $2 AND r."occurredAt" < $3::timestamptz + make_interval(hours => $4)
     )
     SELECT ${kindColumns("s", "i")},
            count(*)::int AS sent,
            count(o.id)::int AS delivered,
            count(*) FILTER (WHERE o.read)::int AS read,
            count(rp.id)::int AS replied
       FROM sent s
       LEFT JOIN LATERAL (${decisionOf("s")}) i ON true
       LEFT JOIN outcome o ON o.id = s.id
       LEFT JOIN replied rp ON rp.id = s.id
      GROUP BY 1, 2, 3, 4, 5`,
    [creatorId, range.from, range.to, OUTCOME_HORIZON_HOURS],
  );
}

/**
 * SQL: true when the jsonb value `json` is a number from 0 to MAX_ENROLMENT_AMOUNT, the bounds
 * ingestion checks; false for anything else, rows stored before that check included. A CASE, not
 * AND: SQL does not promise to test the type before casting.
 */
const isAmount = (json: string) =>
  `CASE WHEN jsonb_typeof(${json}) = 'number' THEN (${json})::numeric BETWEEN 0 AND ${MAX_ENROLMENT_AMOUNT} ELSE false END`;

/**
 * Enrolments (`enrolled` events, `occurredAt` in the range) per attributed message kind and
 * currency. An enrolment's amount: `payload.amount` (a JSON number from 0 to
 * MAX_ENROLMENT_AMOUNT, major units) with `payload.currency` (three letters, upper-cased); else
 * the listed `price` (in the same bounds) and `currency` of the service `payload.service` names
 * (trimmed, case-insensitive; the first of that name) in the creator's profile active now; else
 * unknown. It is attributed to the last email or WhatsApp message SENT to its consumer at or
 * before it, if that one was sent within `attributionWindowHours` before it (actions (consumerId,
 * channel, sentAt)); else to none. Amounts are added up in numeric: each at most a billion, so a
 * sum (of at most 2^31 rows) is below 1e19 and becomes a finite float8.
 */
export async function conversionRows(sql: ReadSql, creatorId: string, range: AnalyticsRange): Promise<ConversionRow[]> {
  return sql.read<ConversionRow>(
    `WITH enrolment AS (
       SELECT n."consumerId", n."occurredAt",
              CASE WHEN own.valid THEN (n.payload ->> 'amount')::numeric ELSE listed.price END AS amount,
              CASE WHEN own.valid THEN upper(n.payload ->> 'currency') ELSE listed.currency END AS currency
         FROM events n
         CROSS JOIN LATERAL (
           SELECT ${isAmount("n.payload -> 'amount'")} AND COALESCE(n.payload ->> 'currency' ~ '^[A-Za-z]{3}$', false) AS valid
         ) own
         LEFT JOIN LATERAL (
           SELECT (s.item ->> 'price')::numeric AS price, upper(s.item ->> 'currency') AS currency
             FROM creator_profiles p CROSS JOIN LATERAL jsonb_array_elements(p.services) WITH ORDINALITY AS s(item, position)
            WHERE p."creatorId" = $1 AND p."isActive"
              AND lower(btrim(s.item ->> 'name')) = lower(btrim(n.payload ->> 'service'))
              AND ${isAmount("s.item -> 'price'")} AND s.item ->> 'currency' ~ '^[A-Za-z]{3}$'
            ORDER BY s.position LIMIT 1
         ) listed ON NOT own.valid
        WHERE n."creatorId" = $1 AND n.type = 'enrolled' AND n."occurredAt" >= $2 AND n."occurredAt" < $3
     )
     SELECT ${kindColumns("m", "i")},
            n.currency, count(*)::int AS conversions, COALESCE(sum(n.amount), 0)::float8 AS amount
       FROM enrolment n
       LEFT JOIN LATERAL (
         SELECT a.* FROM actions a
          WHERE a."consumerId" = n."consumerId" AND a.channel IN ${MESSAGE_CHANNELS} AND a.status = 'SENT'
            AND a."sentAt" <= n."occurredAt" AND a."sentAt" >= n."occurredAt" - make_interval(hours => $4)
          ORDER BY a."sentAt" DESC, a.id DESC LIMIT 1
       ) m ON true
       LEFT JOIN LATERAL (${decisionOf("m")}) i ON true
      GROUP BY 1, 2, 3, 4, 5, 6`,
    [creatorId, range.from, range.to, range.attributionWindowHours],
  );
}
