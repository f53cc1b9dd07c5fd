import { recordAudit } from "../audit/audit-log.js";
import { lockConsumers } from "../consumers/consumer-locks.js";
import { contextFromJson } from "../consumers/context-store.js";
import { type ConversationChange, handOffToPerson, recordUnderstanding } from "../conversations/conversation-store.js";
import { pool } from "../db/client.js";
import { inTransaction, type Sql } from "../db/transaction.js";
import {
  type CancelledAction,
  cancelPlannedActions,
  cancelPlannedMessages,
  type PlannedMessage,
  planMessages,
  type StoredAction,
} from "../delivery/delivery-store.js";
import type { Agent, AgentInvocation } from "../generated/prisma/client.js";
import type {
  AgentRuntime,
  AgentStatus,
  Channel,
  ConversationHolder,
  InvocationStatus,
} from "../generated/prisma/enums.js";
import type { AgentContext, AgentEvent } from "./agent.js";
import type { AgentConfig } from "./agent-config.js";
import type { AgentRecord } from "./runtimes/runtime.js";

// The agent-run hot path in plain SQL, set-based: one statement loads everything the runs of a
// batch need, one claims their invocations, one transaction stores their outcomes (and, through
// the delivery store, their plans). agent-run.ts gathers concurrent runs into these batches.

export type LoadedEvent = {
  event: AgentEvent & { creatorId: string; consumerId: string };
  /** The event's receivedAt: with its id, the key of the partitioned events table its invocations refer to. */
  eventReceivedAt: Date;
  ctx: AgentContext;
  agents: AgentRecord[];
  /** How many actions the consumer had when this was loaded: a plan made on fewer is stale. */
  actionCount: number;
};

type LoadedRow = {
  id: string;
  type: string;
  payload: Record<string, unknown>;
  occurredAt: Date;
  receivedAt: Date;
  creatorId: string;
  consumerId: string;
  creatorName: string;
  creatorTimezone: string;
  name: string | null;
  email: string | null;
  phone: string | null;
  timezone: string | null;
  consented: Channel[];
  context: Record<string, unknown> | null;
  previous: (Omit<AgentContext["previousActions"][number], "sendAt"> & { sendAt: string })[];
  conversations: {
    channel: Channel;
    holder: ConversationHolder;
    lastInboundAt: string | null;
    messages: { direction: "INBOUND" | "OUTBOUND"; text: string | null; at: string; eventId: string | null }[];
  }[];
  gaps: { from: string; to: string }[];
  visits: { service: string; at: string }[];
  templates: AgentContext["whatsAppTemplates"];
  agents: AgentRecord[];
  actionCount: number;
};

/** Events that record what we did (deliveries, bounces), not the consumer's own activity. */
const OUR_OWN_EVENTS = [
  "email_delivered",
  "email_bounced",
  "whatsapp_delivered",
  "whatsapp_failed",
  // Opening or reading our message is no sign of interest of their own (mail clients open mail by themselves).
  "email_opened",
  "whatsapp_read",
]
  .map((t) => `'${t}'`)
  .join(", ");

const LOAD = `
SELECT e.id, e.type, e.payload, e."occurredAt", e."receivedAt", e."creatorId", e."consumerId",
       cr.name AS "creatorName", cr.timezone AS "creatorTimezone",
       co.name, co.email, co.phone, co.timezone,
       ARRAY(SELECT cs.channel::text FROM consumer_consents cs
              WHERE cs."consumerId" = co.id AND cs.status = 'GRANTED') AS consented,
       (SELECT to_jsonb(cc) FROM consumer_contexts cc WHERE cc."consumerId" = co.id) AS context,
       COALESCE((SELECT jsonb_agg(p) FROM (
          SELECT a.id, a.channel, a.status, a."sendAt", a.payload ->> 'template' AS template,
                 a."sentBy" IS NULL AS "byAgent", a.payload ->> 'inReplyTo' AS "inReplyTo",
                 a."outcomeUnknown"
            FROM actions a
           WHERE a."consumerId" = co.id AND a.status <> 'CANCELLED'
           ORDER BY a."sendAt" DESC LIMIT 50) p), '[]') AS previous,
       COALESCE((SELECT jsonb_agg(jsonb_build_object('channel', cv.channel, 'holder', cv.holder,
          'lastInboundAt', cv."lastInboundAt", 'messages',
          COALESCE((SELECT jsonb_agg(m ORDER BY m.at, m."createdAt") FROM (
             SELECT cm.direction, cm.text, cm.at, cm."eventId", cm."createdAt" FROM conversation_messages cm
              WHERE cm."conversationId" = cv.id ORDER BY cm.at DESC, cm."createdAt" DESC LIMIT 30) m), '[]')))
          FROM conversations cv WHERE cv."consumerId" = co.id), '[]') AS conversations,
       COALESCE((SELECT jsonb_agg(jsonb_build_object('from', g.prev, 'to', g."occurredAt") ORDER BY g."occurredAt" DESC)
          FROM (SELECT x.prev, x."occurredAt" FROM (
                  SELECT ev."occurredAt", lag(ev."occurredAt") OVER (ORDER BY ev."occurredAt") AS prev FROM events ev
                   WHERE ev."creatorId" = e."creatorId" AND ev."consumerId" = co.id AND ev."occurredAt" <= e."occurredAt"
                     AND ev.type NOT IN (${OUR_OWN_EVENTS})) x
                 -- Only gaps long enough to start a cycle for one of the creator's agents.
                 WHERE x."occurredAt" - x.prev >= make_interval(days => 1) * (
                         SELECT COALESCE(min(COALESCE((ag.config -> 'tunables' ->> 'quietDaysForNewCycle')::float8, 30)), 30)
                           FROM agents ag WHERE ag."creatorId" = e."creatorId")
                 ORDER BY x."occurredAt" DESC LIMIT 20) g), '[]') AS gaps,
       COALESCE((SELECT jsonb_agg(jsonb_build_object('service', v.service, 'at', v."occurredAt"))
          FROM (SELECT lower(trim(ev.payload ->> 'service')) AS service, ev."occurredAt" FROM events ev
                 WHERE ev."creatorId" = e."creatorId" AND ev."consumerId" = co.id
                   AND ev.type IN ('page_view', 'service_click')
                   AND ev.payload ->> 'service' IS NOT NULL AND ev."occurredAt" <= e."occurredAt"
                 ORDER BY ev."occurredAt" DESC LIMIT 200) v), '[]') AS visits,
       COALESCE((SELECT jsonb_agg(jsonb_build_object('name', t.name, 'language', t.language, 'purpose', t.purpose,
                                                     'body', t.body, 'variables', to_jsonb(t.variables))
                   ORDER BY t."createdAt", t.id)
                  FROM whatsapp_templates t WHERE t."creatorId" = e."creatorId" AND t.status = 'APPROVED'), '[]')
         AS templates,
       COALESCE((SELECT jsonb_agg(jsonb_build_object('id', ag.id, 'kind', ag.kind, 'runtime', ag.runtime,
                                                     'config', ag.config, 'status', ag.status)
                   ORDER BY ag."createdAt")
                  FROM agents ag WHERE ag."creatorId" = e."creatorId"), '[]') AS agents,
       (SELECT count(*)::int FROM actions a WHERE a."consumerId" = co.id) AS "actionCount"
  -- At most one event per id: the LIMIT says so to the planner, which cannot tell from the
  -- partitioned table's key (id, receivedAt) and would otherwise plan for hundreds of rows
  -- (hash joins over every consumer) until the partition is analyzed.
  FROM (SELECT * FROM events WHERE id = ANY($1::uuid[]) LIMIT cardinality($1::uuid[])) e
  JOIN creators cr ON cr.id = e."creatorId"
  JOIN consumers co ON co.id = e."consumerId"`;

/**
 * Each event (by id), its consumer's context and the creator's agents, in one statement for the
 * whole list; null for an event that is gone. `now` is each run's clock, put in its context. Throws
 * when a consumer has no context (ingestion writes both in one transaction, so the data is
 * damaged): the run is dead-lettered rather than skipped as if done (alone: see Batcher).
 */
export async function loadEvents(requests: { eventId: string; now: Date }[]): Promise<(LoadedEvent | null)[]> {
  const { rows } = await pool.query<LoadedRow>(LOAD, [requests.map((r) => r.eventId)]);
  const byId = new Map(rows.map((row) => [row.id, row]));
  return requests.map(({ eventId, now }) => {
    const row = byId.get(eventId);
    return row ? loadedEvent(row, now) : null;
  });
}

function loadedEvent(row: LoadedRow, now: Date): LoadedEvent {
  if (!row.context) throw new Error(`consumer ${row.consumerId} of event ${row.id} has no context`);
  const context = contextFromJson(row.context, `the context of consumer ${row.consumerId}`);
  return {
    event: {
      id: row.id,
      type: row.type,
      payload: row.payload,
      occurredAt: row.occurredAt,
      creatorId: row.creatorId,
      consumerId: row.consumerId,
    },
    eventReceivedAt: row.receivedAt,
    ctx: {
      now,
      creator: { id: row.creatorId, name: row.creatorName, timezone: row.creatorTimezone },
      consumer: {
        id: row.consumerId,
        name: row.name,
        email: row.email,
        phone: row.phone,
        timezone: row.timezone,
        consentedChannels: row.consented,
      },
      context,
      previousActions: row.previous.map((a) => ({ ...a, sendAt: new Date(a.sendAt) })),
      conversations: row.conversations.map((c) => ({
        ...c,
        lastInboundAt: c.lastInboundAt ? new Date(c.lastInboundAt) : null,
        messages: c.messages.map((m) => ({
          direction: m.direction,
          text: m.text,
          at: new Date(m.at),
          eventId: m.eventId,
        })),
      })),
      activityGaps: row.gaps.map((g) => ({ from: new Date(g.from), to: new Date(g.to) })),
      serviceVisits: row.visits.map((v) => ({ service: v.service, at: new Date(v.at) })),
      whatsAppTemplates: row.templates,
    },
    agents: row.agents,
    actionCount: row.actionCount,
  };
}

/**
 * Claims the (agent, event) invocation of each run, in one statement: creates it, or takes it
 * back if an earlier run left it unfinished (a retry, or a worker that died). Null for one that
 * already finished. The same pair twice in one list makes PostgreSQL refuse the statement
 * (21000): each is then claimed alone (see Batcher), as two concurrent runs did before.
 */
export async function claimInvocations(
  claims: { agentId: string; event: LoadedEvent["event"]; eventReceivedAt: Date }[],
): Promise<(AgentInvocation | null)[]> {
  const { rows } = await pool.query<AgentInvocation>(
    `INSERT INTO agent_invocations AS i (id, "agentId", "eventId", "eventReceivedAt", "creatorId", "consumerId", status, attempts, "startedAt")
     SELECT gen_random_uuid(), c.agent, c.event, c.received, c.creator, c.consumer, 'RUNNING', 1, now()
       FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::timestamptz[])
         AS c(agent, event, creator, consumer, received)
     ON CONFLICT ("agentId", "eventId") DO UPDATE
       SET status = 'RUNNING', attempts = i.attempts + 1, "startedAt" = now(), error = NULL
       WHERE i.status NOT IN ('COMPLETED', 'SKIPPED', 'FAILED')
     RETURNING *`,
    [
      claims.map((c) => c.agentId),
      claims.map((c) => c.event.id),
      claims.map((c) => c.event.creatorId),
      claims.map((c) => c.event.consumerId),
      claims.map((c) => c.eventReceivedAt),
    ],
  );
  const claimed = new Map(rows.map((row) => [`${row.agentId}/${row.eventId}`, row]));
  return claims.map((c) => claimed.get(`${c.agentId}/${c.event.id}`) ?? null);
}

/** What a decision changed beyond its own invocation, announced after commit. */
export type PlanOutcome = {
  created: StoredAction[];
  /** The agent's planned messages it stopped: replies a newer one replaces, or all of them at a hand-off. */
  cancelled: CancelledAction[];
  /** A conversation the agent handed to the creator. */
  handedOff: ConversationChange[];
};

/** What a decision does beyond planning messages (Decision in agent.ts). */
export type DecisionEffects = {
  handOff?: { channel: Channel; reason: string; at: Date };
  supersedes?: string[];
  read?: { eventIds: string[]; intent: string };
};

/** One run's decision, to be stored by completeInvocations. */
export type Completion = {
  invocation: AgentInvocation;
  /** The actionCount of the LoadedEvent the decision was made on. */
  loadedActionCount: number;
  outcome: {
    status: InvocationStatus;
    acted: boolean;
    reason: string;
    decision: Record<string, unknown>;
    /** Milliseconds since the invocation started. */
    durationMs: number;
  };
  proposed: PlannedMessage[];
  /** The channel of the consumer's message that triggered the run, if it was one. */
  messageChannel: Channel | null;
  effects?: DecisionEffects;
};

/** What the batch's transaction read, under its locks, about a consumer it may message. */
type ConsumerGuard = {
  /** Channels whose conversation is not the agent's (handed off or closed), growing with the batch's hand-offs. */
  notTheAgents: Set<Channel>;
  /** Actions the batch's earlier decisions planned for the consumer. */
  plannedInBatch: number;
};

/**
 * Stores each decision and its plan (through the delivery store, which checks each message against
 * its channel's contract), all in one transaction, in order; answers each one's PlanOutcome, or
 * null for "stale: decide again". A plan that messages the consumer is stored only if no other run
 * planned a message for them since this one loaded its context (checked under a per-consumer
 * lock): two events at once must not both send a welcome, and that holds between two decisions of
 * one batch as between batches (the later one is stale). A hand-off passes the conversation to the
 * creator in the same transaction (audited); its one notice to the consumer is marked
 * `handOffNotice`, the only agent message the send gate lets into a conversation a person holds.
 *
 * Statements: BEGIN, the consumers' locks and one read of their conversations and action counts
 * (only when some decision plans or hands off), the delivery store's plan insert per decision
 * that plans messages, the rare effects (superseded replies, understood messages, hand-offs) per
 * decision that has them, one update of every invocation, COMMIT. Throws what PostgreSQL throws
 * (a deadlock with a concurrent hand-off, a broken row): the transaction is rolled back whole.
 */
export async function completeInvocations(completions: Completion[]): Promise<(PlanOutcome | null)[]> {
  return inTransaction(async (client) => {
    const guards = await guardConsumers(client, completions);
    const results: (PlanOutcome | null)[] = [];
    const finished: { id: string; outcome: Completion["outcome"]; decision: Record<string, unknown> }[] = [];
    for (const completion of completions) {
      const { invocation, proposed, messageChannel, outcome, effects = {} } = completion;
      const { handOff } = effects;
      const guard = guards.consumers.get(invocation.consumerId);
      // A conversation handed to a person, or closed, is not the agent's: nothing is planned in it,
      // and a message the consumer wrote in one gets nothing from the agent on any channel.
      const notTheAgents = guard?.notTheAgents ?? new Set<Channel>();
      const answersAHeldMessage = messageChannel !== null && notTheAgents.has(messageChannel);
      // Only this transaction marks a hand-off's notice and a reply (`inReplyTo`: the consumer's
      // message this run answers, on the channel it came on): a runtime's own marks are dropped.
      const messages = (answersAHeldMessage ? [] : proposed.filter((m) => !notTheAgents.has(m.channel))).map((m) => {
        const { handOffNotice: _notice, inReplyTo: _reply, ...payload } = m.payload as Record<string, unknown>;
        const replying = messageChannel !== null && m.channel === messageChannel;
        return { ...m, payload: replying ? { ...payload, inReplyTo: invocation.eventId } : payload };
      });
      const withheld = proposed.length - messages.length;
      const decision =
        withheld > 0
          ? {
              ...outcome.decision,
              withheld: {
                channels: proposed.filter((m) => notTheAgents.has(m.channel)).map((m) => m.channel),
                why: "conversation not held by the agent",
              },
            }
          : outcome.decision;
      if (messages.length > 0 && guard) {
        const others = (guards.othersActions.get(invocation.id) ?? 0) + guard.plannedInBatch;
        if (others > completion.loadedActionCount) {
          results.push(null);
          continue;
        }
      }
      const supersedes = effects.supersedes ?? [];
      const cancelled = await cancelPlannedActions(
        client,
        invocation.consumerId,
        supersedes,
        "replaced by a newer reply",
      );
      // A reply this one was to replace is already on its way: it was said after all, decide again.
      if (cancelled.length < supersedes.length) {
        results.push(null);
        continue;
      }
      finished.push({ id: invocation.id, outcome, decision });
      if (effects.read) await recordUnderstanding(client, effects.read.eventIds, effects.read.intent);
      const handedOff: ConversationChange[] = [];
      if (handOff && guard && !notTheAgents.has(handOff.channel)) {
        const conversation = await handOffToPerson(client, {
          creatorId: invocation.creatorId,
          consumerId: invocation.consumerId,
          channel: handOff.channel,
          reason: handOff.reason,
          at: handOff.at,
        });
        cancelled.push(
          ...(await cancelPlannedMessages(client, [
            {
              consumerId: invocation.consumerId,
              channel: handOff.channel,
              reason: "conversation handed off to a person",
              agentsOnly: true,
            },
          ])),
        );
        await recordAudit(client, null, {
          operation: "conversation.hand_off",
          creatorId: invocation.creatorId,
          targetType: "Conversation",
          targetId: conversation.id,
          details: { by: "agent", invocationId: invocation.id, reason: handOff.reason },
        });
        handedOff.push(conversation);
        // The batch's later decisions for this consumer find the conversation the person's.
        guard.notTheAgents.add(handOff.channel);
        const notice = messages.find((m) => m.channel === handOff.channel);
        if (notice) notice.payload = { ...notice.payload, handOffNotice: true };
      }
      const created = await planMessages(client, invocation, messages);
      if (guard) guard.plannedInBatch += created.length;
      results.push({ created, cancelled, handedOff });
    }
    if (finished.length > 0) {
      await client.query(
        `UPDATE agent_invocations i
            SET status = f.status::"InvocationStatus", acted = f.acted, reason = f.reason, decision = f.decision,
                "finishedAt" = now(), "durationMs" = f.duration
           FROM unnest($1::uuid[], $2::text[], $3::bool[], $4::text[], $5::jsonb[], $6::int[])
             AS f(id, status, acted, reason, decision, duration)
          WHERE i.id = f.id`,
        [
          finished.map((f) => f.id),
          finished.map((f) => f.outcome.status),
          finished.map((f) => f.outcome.acted),
          finished.map((f) => f.outcome.reason),
          finished.map((f) => JSON.stringify(f.decision)),
          finished.map((f) => f.outcome.durationMs),
        ],
      );
    }
    return results;
  });
}

/**
 * Takes the per-consumer locks (lockConsumers) of the decisions that plan messages or hand off, then reads, for every consumer
 * whose decision plans or hands off, the conversations not held by the agent (FOR SHARE, or FOR
 * UPDATE for a consumer some decision may hand off, so a hand-off cannot slip between this read
 * and the plan) and, per invocation, how many actions the consumer has from other invocations.
 * Two statements for the whole batch, none when no decision plans or hands off. The locks are
 * taken in consumer id order, so two batches sharing consumers wait for each other instead of
 * deadlocking; the counts are read after the locks, so they include every plan committed before.
 */
async function guardConsumers(
  client: Sql,
  completions: Completion[],
): Promise<{ consumers: Map<string, ConsumerGuard>; othersActions: Map<string, number> }> {
  const guarded = completions.filter((c) => c.proposed.length > 0 || c.effects?.handOff);
  const consumers = new Map<string, ConsumerGuard>();
  const othersActions = new Map<string, number>();
  if (guarded.length === 0) return { consumers, othersActions };
  const handingOff = new Set(guarded.filter((c) => c.effects?.handOff).map((c) => c.invocation.consumerId));
  await lockConsumers(
    client,
    [...guarded.filter((c) => c.proposed.length > 0).map((c) => c.invocation.consumerId), ...handingOff],
    "exclusive",
  );
  const sharing = [...new Set(guarded.map((c) => c.invocation.consumerId))].filter((id) => !handingOff.has(id));
  const { rows } = await client.query<{ invocation: string; consumer: string; others: number; notHeld: Channel[] }>(
    `WITH shared AS MATERIALIZED (
            SELECT "consumerId", channel, holder FROM conversations
             WHERE "consumerId" = ANY($3::uuid[]) ORDER BY "consumerId", channel FOR SHARE),
          exclusive AS MATERIALIZED (
            SELECT "consumerId", channel, holder FROM conversations
             WHERE "consumerId" = ANY($4::uuid[]) ORDER BY "consumerId", channel FOR UPDATE),
          held AS (SELECT * FROM shared UNION ALL SELECT * FROM exclusive)
     SELECT g.invocation, g.consumer,
            (SELECT count(*)::int FROM actions a
              WHERE a."consumerId" = g.consumer AND a."invocationId" IS DISTINCT FROM g.invocation) AS others,
            ARRAY(SELECT h.channel::text FROM held h WHERE h."consumerId" = g.consumer AND h.holder <> 'AGENT')
              AS "notHeld"
       FROM unnest($1::uuid[], $2::uuid[]) AS g(invocation, consumer)`,
    [guarded.map((c) => c.invocation.id), guarded.map((c) => c.invocation.consumerId), sharing, [...handingOff]],
  );
  for (const row of rows) {
    othersActions.set(row.invocation, row.others);
    if (!consumers.has(row.consumer)) {
      consumers.set(row.consumer, { notTheAgents: new Set(row.notHeld), plannedInBatch: 0 });
    }
  }
  return { consumers, othersActions };
}

/** Records a failed attempt: final (FAILED, for the dead-letter view) or waiting for its retry (QUEUED). */
export async function failInvocation(invocationId: string, error: string, final: boolean): Promise<AgentInvocation> {
  const { rows } = await pool.query<AgentInvocation>(
    final
      ? `UPDATE agent_invocations SET status = 'FAILED', error = $2, "finishedAt" = now(),
                "durationMs" = (extract(epoch FROM now() - "startedAt") * 1000)::int
          WHERE id = $1 RETURNING *`
      : `UPDATE agent_invocations SET status = 'QUEUED', error = 'attempt failed, will retry: ' || $2
          WHERE id = $1 RETURNING *`,
    [invocationId, error],
  );
  return rows[0];
}

// The agents table, and agent_invocations outside the run: deployments, pauses, retries.

/** An agent's deployable fields. */
export type AgentFields = { kind: string; runtime: AgentRuntime; config: AgentConfig; profileId: string | null };

export async function findAgentByName(tx: Sql, creatorId: string, name: string): Promise<Agent | null> {
  const { rows } = await tx.query<Agent>(`SELECT * FROM agents WHERE "creatorId" = $1 AND name = $2 FOR UPDATE`, [
    creatorId,
    name,
  ]);
  return rows[0] ?? null;
}

export async function findAgentForUpdate(tx: Sql, agentId: string): Promise<Agent | null> {
  const { rows } = await tx.query<Agent>(`SELECT * FROM agents WHERE id = $1 FOR UPDATE`, [agentId]);
  return rows[0] ?? null;
}

export async function agentsOfCreator(tx: Sql, creatorId: string): Promise<Agent[]> {
  const { rows } = await tx.query<Agent>(`SELECT * FROM agents WHERE "creatorId" = $1 ORDER BY id FOR UPDATE`, [
    creatorId,
  ]);
  return rows;
}

export async function insertAgent(tx: Sql, agent: AgentFields & { creatorId: string; name: string }): Promise<Agent> {
  const { rows } = await tx.query<Agent>(
    `INSERT INTO agents ("creatorId", name, kind, runtime, config, "profileId", "updatedAt")
     VALUES ($1, $2, $3, $4::"AgentRuntime", $5::jsonb, $6, now()) RETURNING *`,
    [agent.creatorId, agent.name, agent.kind, agent.runtime, JSON.stringify(agent.config), agent.profileId],
  );
  return rows[0];
}

export async function updateAgent(tx: Sql, agentId: string, agent: AgentFields): Promise<Agent> {
  const { rows } = await tx.query<Agent>(
    `UPDATE agents SET kind = $2, runtime = $3::"AgentRuntime", config = $4::jsonb, "profileId" = $5, "updatedAt" = now()
      WHERE id = $1 RETURNING *`,
    [agentId, agent.kind, agent.runtime, JSON.stringify(agent.config), agent.profileId],
  );
  return rows[0];
}

/** Points an agent at a profile with its config (a new profile's snapshot). */
export async function setAgentConfig(tx: Sql, agentId: string, profileId: string, config: AgentConfig): Promise<void> {
  await tx.query(`UPDATE agents SET "profileId" = $2, config = $3::jsonb, "updatedAt" = now() WHERE id = $1`, [
    agentId,
    profileId,
    JSON.stringify(config),
  ]);
}

export async function setAgentStatusRow(tx: Sql, agentId: string, status: AgentStatus): Promise<Agent> {
  const { rows } = await tx.query<Agent>(
    `UPDATE agents SET status = $2::"AgentStatus", "updatedAt" = now() WHERE id = $1 RETURNING *`,
    [agentId, status],
  );
  return rows[0];
}

export async function findInvocationForUpdate(tx: Sql, invocationId: string): Promise<AgentInvocation | null> {
  const { rows } = await tx.query<AgentInvocation>(`SELECT * FROM agent_invocations WHERE id = $1 FOR UPDATE`, [
    invocationId,
  ]);
  return rows[0] ?? null;
}

/** A failed invocation back to QUEUED for its retry. */
export async function requeueInvocation(tx: Sql, invocationId: string): Promise<AgentInvocation> {
  const { rows } = await tx.query<AgentInvocation>(
    `UPDATE agent_invocations SET status = 'QUEUED', error = NULL WHERE id = $1 RETURNING *`,
    [invocationId],
  );
  return rows[0];
}
