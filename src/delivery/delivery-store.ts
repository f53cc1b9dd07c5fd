import { countMessagesSent } from "../consumers/context-store.js";
import { type ConversationChange, recordOutbound } from "../conversations/conversation-store.js";
import { pool } from "../db/client.js";
import { storableJson, storableString } from "../db/storable-text.js";
import { inTransaction, type Sql } from "../db/transaction.js";
import type { Action } from "../generated/prisma/client.js";
import type { Channel } from "../generated/prisma/enums.js";
import type { StatusChange } from "./action-feed.js";
import { type FallbackPlan, parsePayload } from "./action-payload.js";
import type { ProviderAnswer, SendSuccess } from "./providers/provider.js";

// The SQL of an action's delivery. A claimed action is only ever changed by the claim that took
// it: every update below matches (id, SENDING, claimedAt), so a worker whose lease expired
// cannot overwrite what the lease recovery or another worker decided. A claim holds until
// leaseExpiresAt, which its scheduler renews while the action is in its hands.

export type ClaimedAction = {
  id: string;
  creatorId: string;
  consumerId: string;
  /** The agent run that planned it; null for a person's message, and for an agent's whose run event retention dropped. */
  invocationId: string | null;
  /** Who wrote a person's message (sendMessage); null for an agent's. */
  sentBy: string | null;
  channel: Channel;
  payload: unknown;
  sendAt: Date;
  /** When it first fell due, if a provider's send rate has held it since (see Action.firstDueAt). */
  firstDueAt: Date | null;
  priority: number;
  attempts: number;
  statusReason: string | null;
  claimedAt: Date;
};

/** When the action was due for lateness and for the order of sends: before any hold for a send rate. */
export const dueAt = (action: Pick<ClaimedAction, "sendAt" | "firstDueAt">): Date => action.firstDueAt ?? action.sendAt;

const INT_MAX = 2_147_483_647;
const GUARD = `id = $1 AND status = 'SENDING' AND "claimedAt" = $2`;

/**
 * Takes up to `limit` due actions, higher priority first, then earlier sendAt, and moves them
 * PLANNED -> SENDING in the same statement. SKIP LOCKED lets schedulers run side by side: each
 * row is taken by exactly one of them, and none waits for another.
 */
export async function claimDueActions(now: Date, limit: number, leaseMs: number): Promise<ClaimedAction[]> {
  const { rows } = await pool.query<ClaimedAction>(
    `WITH due AS (
       SELECT id FROM actions
        WHERE status = 'PLANNED' AND "sendAt" <= $1
        ORDER BY priority DESC, COALESCE("firstDueAt", "sendAt"), id
        LIMIT $2
        FOR UPDATE SKIP LOCKED
     )
     UPDATE actions a SET status = 'SENDING', "claimedAt" = $1, "leaseExpiresAt" = $3, "dispatchedAt" = NULL,
            "updatedAt" = now()
       FROM due WHERE a.id = due.id
     RETURNING a.id, a."creatorId", a."consumerId", a."invocationId", a."sentBy", a.channel, a.payload, a."sendAt",
               a."firstDueAt", a.priority, a.attempts, a."statusReason", a."claimedAt"`,
    [now, limit, new Date(now.getTime() + leaseMs)],
  );
  // RETURNING keeps no order: send in the order the rows were chosen.
  return rows.sort(sendOrder);
}

/** The order due actions are sent in: higher priority first, then the earlier due (then id, for a total order). */
export const sendOrder = (a: ClaimedAction, b: ClaimedAction): number =>
  b.priority - a.priority || dueAt(a).getTime() - dueAt(b).getTime() || a.id.localeCompare(b.id);

export const LEASE_REASONS = {
  replanned: "worker stopped before the provider call: planned again",
  interrupted:
    "interrupted: the worker stopped during the provider call, so the message may have gone out; not retried",
};

/**
 * Extends the claims of actions still in a scheduler's hands (each as claimed at its `claimedAt`)
 * until `until`, in one statement; those it no longer holds are left alone. Returns how many it
 * renewed.
 */
export async function renewLeases(claims: Pick<ClaimedAction, "id" | "claimedAt">[], until: Date): Promise<number> {
  if (claims.length === 0) return 0;
  const { rowCount } = await pool.query(
    `UPDATE actions a SET "leaseExpiresAt" = GREATEST(a."leaseExpiresAt", $3)
       FROM unnest($1::uuid[], $2::timestamptz[]) AS c(id, "claimedAt")
      WHERE a.id = c.id AND a.status = 'SENDING' AND a."claimedAt" = c."claimedAt"`,
    [claims.map((c) => c.id), claims.map((c) => c.claimedAt), until],
  );
  return rowCount ?? 0;
}

/**
 * Gives back claimed actions whose provider call never started (a scheduler stopping, or meeting
 * an outage): PLANNED again at once, for any scheduler to take. Returns the changes to publish.
 */
export async function releaseClaims(claims: Pick<ClaimedAction, "id" | "claimedAt">[]): Promise<StatusChange[]> {
  if (claims.length === 0) return [];
  const { rows } = await pool.query<StatusChange>(
    `UPDATE actions a SET status = 'PLANNED', "claimedAt" = NULL, "leaseExpiresAt" = NULL, "updatedAt" = now()
       FROM unnest($1::uuid[], $2::timestamptz[]) AS c(id, "claimedAt")
      WHERE a.id = c.id AND a.status = 'SENDING' AND a."claimedAt" = c."claimedAt" AND a."dispatchedAt" IS NULL
      RETURNING a.id, a."creatorId", a.status`,
    [claims.map((c) => c.id), claims.map((c) => c.claimedAt)],
  );
  return rows;
}

/**
 * When the next PLANNED action falls due (UTC), or null when none is planned: the scheduler
 * sleeps until then rather than a whole interval, so a message is not held back by the poll.
 */
export async function nextDueAt(): Promise<Date | null> {
  const { rows } = await pool.query<{ at: Date | null }>(
    `SELECT min("sendAt") AS at FROM actions WHERE status = 'PLANNED'`,
  );
  return rows[0].at;
}

/**
 * Actions left in SENDING past their lease belong to a scheduler that stopped renewing it (the
 * process died). At most once wins: one whose provider call never started (no dispatchedAt) is
 * planned again; one whose call may have started is failed, never sent a second time.
 */
export async function recoverExpiredClaims(now: Date): Promise<(StatusChange & { channel: Channel })[]> {
  const { rows } = await pool.query<StatusChange & { channel: Channel }>(
    `UPDATE actions SET
        status = (CASE WHEN "dispatchedAt" IS NULL THEN 'PLANNED' ELSE 'FAILED' END)::"ActionStatus",
        "statusReason" = CASE WHEN "dispatchedAt" IS NULL THEN $2 ELSE $3 END,
        attempts = attempts + (CASE WHEN "dispatchedAt" IS NULL THEN 0 ELSE 1 END),
        "outcomeUnknown" = "dispatchedAt" IS NOT NULL,
        "claimedAt" = NULL, "leaseExpiresAt" = NULL, "updatedAt" = now()
      WHERE status = 'SENDING' AND "leaseExpiresAt" < $1
      RETURNING id, "creatorId", status, channel`,
    [now, LEASE_REASONS.replanned, LEASE_REASONS.interrupted],
  );
  return rows;
}

async function updateClaimed(db: Sql, action: ClaimedAction, set: string, values: unknown[]): Promise<boolean> {
  const { rowCount } = await db.query(`UPDATE actions SET ${set}, "updatedAt" = now() WHERE ${GUARD}`, [
    action.id,
    action.claimedAt,
    ...values,
  ]);
  return rowCount === 1;
}

/** What the send rules decided for a claimed action (see markGateVerdicts). */
export type GateMark =
  /** The provider call is about to start, the lease renewed to run from now. */
  | { action: ClaimedAction; kind: "dispatch"; at: Date; leaseUntil: Date }
  | { action: ClaimedAction; kind: "skip"; reason: string }
  /** PLANNED again at `sendAt` (quiet hours): due from then on. */
  | { action: ClaimedAction; kind: "replan"; reason: string; sendAt: Date }
  /** PLANNED again at `sendAt`, its turn at the provider's send rate: still due since it first was. */
  | { action: ClaimedAction; kind: "hold"; reason: string; sendAt: Date };

/**
 * Records the send rules' verdicts on a batch of claimed actions in one statement, in the
 * transaction that checked them. A dispatched action gets its `dispatchedAt`: from here on a lost
 * worker means "may have been sent". Answers the ids marked; an action missing from it was no
 * longer this claim's (the lease recovery took it meanwhile).
 */
export async function markGateVerdicts(db: Sql, marks: GateMark[]): Promise<Set<string>> {
  if (marks.length === 0) return new Set();
  const { rows } = await db.query<{ id: string }>(
    `UPDATE actions a SET
            status = (CASE m.kind WHEN 'dispatch' THEN 'SENDING' WHEN 'skip' THEN 'SKIPPED' ELSE 'PLANNED' END)::"ActionStatus",
            "statusReason" = CASE WHEN m.kind = 'dispatch' THEN a."statusReason" ELSE m.reason END,
            "sendAt" = COALESCE(m."sendAt", a."sendAt"),
            "firstDueAt" = CASE m.kind WHEN 'hold' THEN COALESCE(a."firstDueAt", a."sendAt")
                                       WHEN 'replan' THEN NULL ELSE a."firstDueAt" END,
            "dispatchedAt" = m."dispatchedAt",
            "leaseExpiresAt" = m."leaseUntil",
            "claimedAt" = CASE WHEN m.kind = 'dispatch' THEN a."claimedAt" END,
            "updatedAt" = now()
       FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[],
                   $7::timestamptz[]) AS m(id, "claimedAt", kind, reason, "sendAt", "dispatchedAt", "leaseUntil")
      WHERE a.id = m.id AND a.status = 'SENDING' AND a."claimedAt" = m."claimedAt"
      RETURNING a.id`,
    [
      marks.map((m) => m.action.id),
      marks.map((m) => m.action.claimedAt),
      marks.map((m) => m.kind),
      marks.map((m) => (m.kind === "dispatch" ? null : m.reason)),
      marks.map((m) => (m.kind === "replan" || m.kind === "hold" ? m.sendAt : null)),
      marks.map((m) => (m.kind === "dispatch" ? m.at : null)),
      marks.map((m) => (m.kind === "dispatch" ? m.leaseUntil : null)),
    ],
  );
  return new Set(rows.map((r) => r.id));
}

/** A message the provider accepted, to mark SENT (see markSent). */
export type SentMark = {
  action: ClaimedAction;
  sentAt: Date;
  result: Pick<SendSuccess, "providerMessageId" | "answer" | "sentFrom">;
  /** When its provider call was dispatched (markGateVerdicts). */
  dispatchedAt: Date;
};

/**
 * SENT, and each consumer's context counts them (the consumers' context store) and their
 * conversations record them (messages to the person), for a batch of sends in one transaction of
 * three statements.
 * The owner knows a message went out: if the lease recovery meanwhile failed the action as
 * interrupted (PostgreSQL was away past the lease, so the owner could not record it in time), the
 * row dispatched at `dispatchedAt` is corrected to SENT, its attempt counted once.
 * Answers, by action id, the conversation each message joined (null for a webhook), to publish once
 * committed; an action missing from it was no longer this claim's, and is left as it is.
 */
export async function markSent(sends: SentMark[]): Promise<Map<string, { conversation: ConversationChange | null }>> {
  if (sends.length === 0) return new Map();
  return inTransaction(
    async (tx) => {
      const { rows } = await tx.query<{ id: string; consumerId: string; channel: Channel; sentAt: Date }>(
        `UPDATE actions a SET status = 'SENT', "sentAt" = s."sentAt", "latenessMs" = s."latenessMs",
                attempts = a.attempts + (a.status = 'SENDING')::int,
                "providerMessageId" = s."providerMessageId", "providerResponse" = s.answer, "statusReason" = NULL,
                "outcomeUnknown" = false, "claimedAt" = NULL, "leaseExpiresAt" = NULL, "sentFrom" = s."sentFrom", "updatedAt" = now()
           FROM unnest($1::uuid[], $2::timestamptz[], $3::timestamptz[], $4::int[], $5::text[], $6::jsonb[],
                       $7::timestamptz[], $8::text[])
                AS s(id, "claimedAt", "sentAt", "latenessMs", "providerMessageId", answer, "dispatchedAt", "sentFrom")
          WHERE a.id = s.id
            AND ((a.status = 'SENDING' AND a."claimedAt" = s."claimedAt")
              OR (a.status = 'FAILED' AND a."statusReason" = $9 AND a."dispatchedAt" = s."dispatchedAt"))
         RETURNING a.id, a."consumerId", a.channel, a."sentAt"`,
        [
          sends.map((s) => s.action.id),
          sends.map((s) => s.action.claimedAt),
          sends.map((s) => s.sentAt),
          sends.map((s) => Math.min(INT_MAX, Math.max(0, s.sentAt.getTime() - dueAt(s.action).getTime()))),
          sends.map((s) => s.result.providerMessageId && storableString(s.result.providerMessageId)),
          sends.map((s) => storableJson(s.result.answer)),
          sends.map((s) => s.dispatchedAt),
          sends.map((s) => (s.result.sentFrom ? storableString(s.result.sentFrom) : null)),
          LEASE_REASONS.interrupted,
        ],
      );
      const byId = new Map(sends.map((s) => [s.action.id, s.action]));
      // Conversations before contexts: the order ingestion locks them in, so the two never deadlock.
      const messages = rows.filter((r) => r.channel === "EMAIL" || r.channel === "WHATSAPP");
      const joined = await recordOutbound(
        tx,
        messages.map((sent) => {
          const action = byId.get(sent.id) as ClaimedAction;
          const { message, template } = (action.payload ?? {}) as { message?: unknown; template?: unknown };
          return {
            creatorId: action.creatorId,
            consumerId: sent.consumerId,
            channel: sent.channel,
            text: typeof message === "string" ? message : null,
            // What an agent said; a person's message is theirs, not the agent's to remember.
            topic: action.sentBy === null && typeof template === "string" ? template : null,
            actionId: sent.id,
            at: sent.sentAt,
          };
        }),
      );
      await countMessagesSent(tx, rows);
      const conversations = new Map(joined.map((c) => [`${c.consumerId}:${c.channel}`, c]));
      return new Map(
        rows.map((r) => {
          const c = conversations.get(`${r.consumerId}:${r.channel}`);
          return [r.id, { conversation: c ? { id: c.id, creatorId: c.creatorId, holder: c.holder } : null }];
        }),
      );
    },
    { attempts: 3 },
  );
}

export const scheduleRetry = (
  action: ClaimedAction,
  retryAt: Date,
  reason: string,
  answer: ProviderAnswer,
): Promise<boolean> =>
  updateClaimed(
    pool,
    action,
    `status = 'PLANNED', attempts = attempts + 1, "sendAt" = $3, "firstDueAt" = NULL, "statusReason" = $4,
     "providerResponse" = $5,
     "claimedAt" = NULL, "leaseExpiresAt" = NULL, "dispatchedAt" = NULL`,
    [retryAt, reason, storableJson(answer)],
  );

/** Plans the fallback as the invocation's next action; the invocation row lock keeps sequences unique. */
async function planFallback(
  client: Sql,
  source: {
    invocationId: string | null;
    sentBy: string | null;
    creatorId: string;
    consumerId: string;
    priority: number;
  },
  plan: FallbackPlan,
  sendAt: Date,
): Promise<StatusChange> {
  // The invocation's row lock keeps its sequences unique (a person's message has none: sequence 1).
  if (source.invocationId) {
    await client.query(`SELECT 1 FROM agent_invocations WHERE id = $1 FOR UPDATE`, [source.invocationId]);
  }
  const {
    rows: [planned],
  } = await client.query<StatusChange>(
    `INSERT INTO actions ("invocationId", sequence, "creatorId", "consumerId", channel, payload, "sendAt", priority,
                          "statusReason", "sentBy")
     SELECT $1, COALESCE(max(sequence), 0) + 1, $2, $3, $4, $5, $6, $7, $8, $9 FROM actions WHERE "invocationId" = $1
     RETURNING id, "creatorId", status`,
    [
      source.invocationId,
      source.creatorId,
      source.consumerId,
      plan.channel,
      JSON.stringify(plan.payload),
      sendAt,
      source.priority,
      plan.reason,
      // A person's message falling back to another channel is still theirs.
      source.sentBy,
    ],
  );
  return planned;
}

/**
 * FAILED with the provider's answer (attempts counts this call if one was made), and the fallback
 * planned in the same transaction. `outcomeUnknown`: the call got no answer, so the message may
 * have gone out (agents then count it as said).
 */
export async function markFailed(
  action: ClaimedAction,
  failure: { reason: string; answer: ProviderAnswer | null; providerCalled: boolean; outcomeUnknown: boolean },
  fallback: FallbackPlan | null,
  now: Date,
): Promise<StatusChange[]> {
  return inTransaction(async (client) => {
    const failed = await updateClaimed(
      client,
      action,
      `status = 'FAILED', attempts = attempts + $3, "statusReason" = $4,
       "providerResponse" = COALESCE($5, "providerResponse"), "outcomeUnknown" = $6,
       "claimedAt" = NULL, "leaseExpiresAt" = NULL`,
      [
        failure.providerCalled ? 1 : 0,
        failure.reason,
        failure.answer && storableJson(failure.answer),
        failure.outcomeUnknown,
      ],
    );
    if (!failed) return [];
    const changes: StatusChange[] = [{ id: action.id, creatorId: action.creatorId, status: "FAILED" }];
    if (fallback) changes.push(await planFallback(client, action, fallback, now));
    return changes;
  });
}

export type SentAction = Pick<
  ClaimedAction,
  "id" | "creatorId" | "consumerId" | "invocationId" | "sentBy" | "channel" | "payload" | "priority"
> & {
  /** The sender it went out from (WhatsApp's phone_number_id); null for sends recorded before it was kept. */
  sentFrom: string | null;
};

/** The action a provider's message id names, or null. */
export async function findByProviderMessageId(channel: Channel, providerMessageId: string): Promise<SentAction | null> {
  const { rows } = await pool.query<SentAction>(
    `SELECT id, "creatorId", "consumerId", "invocationId", "sentBy", channel, payload, priority, "sentFrom"
       FROM actions WHERE "providerMessageId" = $1 AND channel = $2`,
    [providerMessageId, channel],
  );
  return rows[0] ?? null;
}

/**
 * The provider accepted a message, then reported it undeliverable (a WhatsApp "failed" status):
 * SENT becomes FAILED with the report, and the fallback is planned, once, however often the
 * report arrives.
 */
export async function failAfterAcceptance(
  action: SentAction,
  reason: string,
  report: ProviderAnswer,
  fallback: FallbackPlan | null,
  now: Date,
): Promise<StatusChange[]> {
  return inTransaction(async (client) => {
    const { rowCount } = await client.query(
      `UPDATE actions SET status = 'FAILED', "statusReason" = $2,
              "providerResponse" = jsonb_build_object('accepted', "providerResponse", 'report', $3::jsonb),
              "updatedAt" = now()
        WHERE id = $1 AND status = 'SENT'`,
      [action.id, reason, storableJson(report)],
    );
    if (rowCount !== 1) return [];
    const changes: StatusChange[] = [{ id: action.id, creatorId: action.creatorId, status: "FAILED" }];
    if (fallback) changes.push(await planFallback(client, action, fallback, now));
    return changes;
  });
}

/** A message an agent plans: its channel's payload (checked against the channel's contract), when, how urgent. */
export type PlannedMessage = { channel: Channel; payload: unknown; sendAt: Date; priority: number };

/** An action as planning stored it: PLANNED, or FAILED at once when its payload breaks the contract. */
export type StoredAction = { id: string; creatorId: string; status: "PLANNED" | "FAILED" };

/**
 * Stores an invocation's plan, in the caller's transaction: one action per message, in order
 * (unique per invocation and sequence, so a replayed plan adds none). Each payload is checked
 * against its channel's contract now and stored as the agent wrote it (fields beyond the contract,
 * such as a runtime's draft, kept): a valid one PLANNED, a broken one FAILED with the reason,
 * never sent.
 */
export async function planMessages(
  client: Sql,
  invocation: { id: string; creatorId: string; consumerId: string },
  messages: PlannedMessage[],
): Promise<StoredAction[]> {
  if (messages.length === 0) return [];
  const checked = messages.map((m) => parsePayload(m.channel, m.payload));
  const { rows } = await client.query<StoredAction>(
    `INSERT INTO actions (id, "invocationId", sequence, "creatorId", "consumerId", channel, payload, "sendAt",
                          priority, status, "statusReason")
     SELECT gen_random_uuid(), $1, s, $2, $3, c, p, t, pr, st, r
       FROM unnest($4::int[], $5::"Channel"[], $6::jsonb[], $7::timestamptz[], $8::float8[], $9::"ActionStatus"[],
                   $10::text[]) AS x(s, c, p, t, pr, st, r)
     ON CONFLICT ("invocationId", sequence) DO NOTHING
     RETURNING id, "creatorId", status`,
    [
      invocation.id,
      invocation.creatorId,
      invocation.consumerId,
      messages.map((_m, i) => i),
      messages.map((m) => m.channel),
      messages.map((m) => JSON.stringify(m.payload)),
      messages.map((m) => m.sendAt),
      messages.map((m) => m.priority),
      checked.map((c) => (c.ok ? "PLANNED" : "FAILED")),
      checked.map((c) => (c.ok ? null : c.reason)),
    ],
  );
  return rows;
}

/**
 * Cancels a PLANNED action with the reason; `current` is the action as it stands afterwards (null
 * when there is none), `cancelled` whether this call cancelled it.
 */
export async function cancelPlannedAction(
  tx: Sql,
  id: string,
  reason: string,
): Promise<{ cancelled: boolean; current: Action | null }> {
  const { rows } = await tx.query<Action>(
    `UPDATE actions SET status = 'CANCELLED', "statusReason" = $2, "updatedAt" = now()
      WHERE id = $1 AND status = 'PLANNED' RETURNING *`,
    [id, reason],
  );
  if (rows[0]) return { cancelled: true, current: rows[0] };
  const { rows: found } = await tx.query<Action>(`SELECT * FROM actions WHERE id = $1`, [id]);
  return { cancelled: false, current: found[0] ?? null };
}

/** Cancels those of the consumer's actions that are still PLANNED, with the reason (one statement). */
export async function cancelPlannedActions(
  tx: Sql,
  consumerId: string,
  ids: string[],
  reason: string,
): Promise<CancelledAction[]> {
  if (ids.length === 0) return [];
  const { rows } = await tx.query<CancelledAction>(
    `UPDATE actions SET status = 'CANCELLED', "statusReason" = $3, "updatedAt" = now()
      WHERE id = ANY($2::uuid[]) AND "consumerId" = $1 AND status = 'PLANNED'
     RETURNING id, "creatorId", "consumerId", channel`,
    [consumerId, ids, reason],
  );
  return rows;
}

/** Planned messages to stop on a channel: a consent withdrawal, a conversation handed to a person. */
export type Withdrawal = {
  consumerId: string;
  channel: Channel;
  reason: string;
  /** Only the agents' messages (a hand-off): a person's own messages stay planned. */
  agentsOnly?: boolean;
};

export type CancelledAction = { id: string; creatorId: string; consumerId: string; channel: Channel };

/**
 * Cancels the PLANNED actions on each withdrawn channel with its reason, in the caller's
 * transaction: an opt-out is honoured at once, including for messages already planned (an action a
 * scheduler has already claimed is stopped by the consent check at send time).
 */
export async function cancelPlannedMessages(tx: Sql, withdrawals: Withdrawal[]): Promise<CancelledAction[]> {
  if (withdrawals.length === 0) return [];
  const { rows } = await tx.query<CancelledAction>(
    `UPDATE actions a SET status = 'CANCELLED', "statusReason" = w.reason, "updatedAt" = now()
       FROM unnest($1::uuid[], $2::"Channel"[], $3::text[], $4::bool[]) AS w("consumerId", channel, reason, agents_only)
      WHERE a."consumerId" = w."consumerId" AND a.channel = w.channel AND a.status = 'PLANNED'
        AND (NOT w.agents_only OR a."sentBy" IS NULL)
     RETURNING a.id, a."creatorId", a."consumerId", a.channel`,
    [
      withdrawals.map((w) => w.consumerId),
      withdrawals.map((w) => w.channel),
      withdrawals.map((w) => w.reason),
      withdrawals.map((w) => w.agentsOnly ?? false),
    ],
  );
  return rows;
}

/** A message a person writes in a conversation, sent through the same consent and send rules. */
export type PersonMessage = {
  creatorId: string;
  consumerId: string;
  channel: "EMAIL" | "WHATSAPP";
  payload: { to: string; message: string; subject?: string; template: string };
  /** Who wrote it: the API key's label. */
  sentBy: string;
};

/**
 * Plans a person's message, due now and ahead of the agents' (priority 10), after checking it
 * against its channel's contract. Raises the contract's reason as an Error the caller turns into
 * a ValidationError.
 */
export async function planPersonMessage(tx: Sql, message: PersonMessage): Promise<Action> {
  const checked = parsePayload(message.channel, message.payload);
  if (!checked.ok) throw new Error(checked.reason);
  const { rows } = await tx.query<Action>(
    `INSERT INTO actions (id, "invocationId", sequence, "creatorId", "consumerId", channel, payload, "sendAt", priority,
                          "sentBy", "updatedAt")
     VALUES (gen_random_uuid(), NULL, 0, $1, $2, $3::"Channel", $4::jsonb, now(), 10, $5, now())
     RETURNING *`,
    [message.creatorId, message.consumerId, message.channel, JSON.stringify(message.payload), message.sentBy],
  );
  return rows[0];
}
