import { recordAudit } from "../audit/audit-log.js";
import { contextFromJson } from "../consumers/context-store.js";
import {
  type ConversationChange,
  channelsNotHeldByAgent,
  handOffToPerson,
  recordUnderstanding,
} from "../conversations/conversation-store.js";
import { pool } from "../db/client.js";
import { inTransaction, type Sql } from "../db/transaction.js";
import {
  type CancelledAction,
  cancelPlannedActions,
  cancelPlannedMessages,
  countActionsOf,
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

// The agent-run hot path in plain SQL: one statement to load everything a run needs, one to
// claim an invocation, one to store its outcome (and the delivery store's, its plan).

export type LoadedEvent = {
  event: AgentEvent & { creatorId: string; consumerId: string };
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
SELECT e.id, e.type, e.payload, e."occurredAt", e."creatorId", e."consumerId",
       cr.name AS "creatorName", cr.timezone AS "creatorTimezone",
       co.name, co.email, co.phone, co.timezone,
       ARRAY(SELECT cs.channel::text FROM consumer_consents cs
              WHERE cs."consumerId" = co.id AND cs.status = 'GRANTED') AS consented,
       (SELECT to_jsonb(cc) FROM consumer_contexts cc WHERE cc."consumerId" = co.id) AS context,
       COALESCE((SELECT jsonb_agg(p) FROM (
          SELECT a.id, a.channel, a.status, a."sendAt", a.payload ->> 'template' AS template,
                 a."invocationId" IS NOT NULL AS "byAgent", a.payload ->> 'inReplyTo' AS "inReplyTo"
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
  FROM events e
  JOIN creators cr ON cr.id = e."creatorId"
  JOIN consumers co ON co.id = e."consumerId"
 WHERE e.id = $1`;

/**
 * The event, its consumer's context and the creator's active agents; null if the event is gone.
 * Throws when the consumer has no context (ingestion writes both in one transaction, so the data
 * is damaged): the run is dead-lettered rather than skipped as if done.
 */
export async function loadEvent(eventId: string, now = new Date()): Promise<LoadedEvent | null> {
  const { rows } = await pool.query<LoadedRow>(LOAD, [eventId]);
  const row = rows[0];
  if (!row) return null;
  if (!row.context) throw new Error(`consumer ${row.consumerId} of event ${eventId} has no context`);
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
 * Claims the (agent, event) invocation for this run: creates it, or takes it back if an earlier
 * run left it unfinished (a retry, or a worker that died). Null when it already finished.
 */
export async function claimInvocation(agentId: string, event: LoadedEvent["event"]): Promise<AgentInvocation | null> {
  const { rows } = await pool.query<AgentInvocation>(
    `INSERT INTO agent_invocations AS i (id, "agentId", "eventId", "creatorId", "consumerId", status, attempts, "startedAt")
     VALUES (gen_random_uuid(), $1, $2, $3, $4, 'RUNNING', 1, now())
     ON CONFLICT ("agentId", "eventId") DO UPDATE
       SET status = 'RUNNING', attempts = i.attempts + 1, "startedAt" = now(), error = NULL
       WHERE i.status NOT IN ('COMPLETED', 'SKIPPED', 'FAILED')
     RETURNING *`,
    [agentId, event.id, event.creatorId, event.consumerId],
  );
  return rows[0] ?? null;
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

/**
 * Stores the decision and its plan atomically (the plan through the delivery store, which checks
 * each message against its channel's contract). A plan that messages the consumer is stored only
 * if no other run planned a message for them since this one loaded its context (checked under a
 * per-consumer lock): two events at once must not both send a welcome. Null means "stale: decide
 * again". A hand-off passes the conversation to the creator in the same transaction (audited); its
 * one notice to the consumer is marked `handOffNotice`, the only agent message the send gate lets
 * into a conversation a person holds.
 */
export async function completeInvocation(
  invocation: AgentInvocation,
  loadedActionCount: number,
  outcome: {
    status: InvocationStatus;
    acted: boolean;
    reason: string;
    decision: Record<string, unknown>;
    durationMs: number;
  },
  proposed: PlannedMessage[],
  /** The channel of the consumer's message that triggered the run, if it was one. */
  messageChannel: Channel | null,
  effects: DecisionEffects = {},
): Promise<PlanOutcome | null> {
  return inTransaction(async (client) => {
    const { handOff } = effects;
    // A conversation handed to a person, or closed, is not the agent's: nothing is planned in it,
    // and a message the consumer wrote in one gets nothing from the agent on any channel. Read
    // FOR SHARE in this transaction (FOR UPDATE when handing off), so a hand-off cannot slip
    // between the check and the plan.
    const notTheAgents = new Set(
      proposed.length > 0 || handOff
        ? await channelsNotHeldByAgent(client, invocation.consumerId, handOff !== undefined)
        : [],
    );
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
    if (messages.length > 0) {
      await client.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [invocation.consumerId]);
      if ((await countActionsOf(client, invocation.consumerId, invocation.id)) > loadedActionCount) return null;
    }
    const supersedes = effects.supersedes ?? [];
    const cancelled = await cancelPlannedActions(
      client,
      invocation.consumerId,
      supersedes,
      "replaced by a newer reply",
    );
    // A reply this one was to replace is already on its way: it was said after all, decide again.
    if (cancelled.length < supersedes.length) return null;
    await client.query(
      `UPDATE agent_invocations SET status = $2, acted = $3, reason = $4, decision = $5, "finishedAt" = now(),
              "durationMs" = $6
        WHERE id = $1`,
      [invocation.id, outcome.status, outcome.acted, outcome.reason, JSON.stringify(decision), outcome.durationMs],
    );
    if (effects.read) await recordUnderstanding(client, effects.read.eventIds, effects.read.intent);
    const handedOff: ConversationChange[] = [];
    if (handOff && !notTheAgents.has(handOff.channel)) {
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
      const notice = messages.find((m) => m.channel === handOff.channel);
      if (notice) notice.payload = { ...notice.payload, handOffNotice: true };
    }
    const created = await planMessages(client, invocation, messages);
    return { created, cancelled, handedOff };
  });
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
