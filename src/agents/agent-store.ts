import { contextFromJson } from "../consumers/context-store.js";
import { channelsNotHeldByAgent } from "../conversations/conversation-store.js";
import { pool } from "../db/client.js";
import { inTransaction, type Sql } from "../db/transaction.js";
import { countActionsOf, type PlannedMessage, planMessages, type StoredAction } from "../delivery/delivery-store.js";
import type { Agent, AgentInvocation } from "../generated/prisma/client.js";
import type { AgentRuntime, AgentStatus, Channel, InvocationStatus } from "../generated/prisma/enums.js";
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
  previous: { channel: Channel; status: string; sendAt: string; template: string | null }[];
  agents: AgentRecord[];
  actionCount: number;
};

const LOAD = `
SELECT e.id, e.type, e.payload, e."occurredAt", e."creatorId", e."consumerId",
       cr.name AS "creatorName", cr.timezone AS "creatorTimezone",
       co.name, co.email, co.phone, co.timezone,
       ARRAY(SELECT cs.channel::text FROM consumer_consents cs
              WHERE cs."consumerId" = co.id AND cs.status = 'GRANTED') AS consented,
       (SELECT to_jsonb(cc) FROM consumer_contexts cc WHERE cc."consumerId" = co.id) AS context,
       COALESCE((SELECT jsonb_agg(p) FROM (
          SELECT a.channel, a.status, a."sendAt", a.payload ->> 'template' AS template FROM actions a
           WHERE a."consumerId" = co.id AND a.status <> 'CANCELLED'
           ORDER BY a."sendAt" DESC LIMIT 50) p), '[]') AS previous,
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
export async function loadEvent(eventId: string): Promise<LoadedEvent | null> {
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
      now: new Date(),
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

/**
 * Stores the decision and its plan atomically (the plan through the delivery store, which checks
 * each message against its channel's contract). A plan that messages the consumer is stored only
 * if no other run planned a message for them since this one loaded its context (checked under a
 * per-consumer lock): two events at once must not both send a welcome. Null means "stale: decide
 * again".
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
): Promise<StoredAction[] | null> {
  return inTransaction(async (client) => {
    // A conversation handed to a person, or closed, is not the agent's: nothing is planned in it,
    // and a message the consumer wrote in one gets nothing from the agent on any channel. Read
    // FOR SHARE in this transaction, so a hand-off cannot slip between the check and the plan.
    const notTheAgents = new Set(
      proposed.length > 0 ? await channelsNotHeldByAgent(client, invocation.consumerId) : [],
    );
    const answersAHeldMessage = messageChannel !== null && notTheAgents.has(messageChannel);
    const messages = answersAHeldMessage ? [] : proposed.filter((m) => !notTheAgents.has(m.channel));
    const withheld = proposed.filter((m) => !messages.includes(m)).map((m) => m.channel);
    const decision =
      withheld.length > 0
        ? { ...outcome.decision, withheld: { channels: withheld, why: "conversation not held by the agent" } }
        : outcome.decision;
    if (messages.length > 0) {
      await client.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [invocation.consumerId]);
      if ((await countActionsOf(client, invocation.consumerId, invocation.id)) > loadedActionCount) return null;
    }
    await client.query(
      `UPDATE agent_invocations SET status = $2, acted = $3, reason = $4, decision = $5, "finishedAt" = now(),
              "durationMs" = $6
        WHERE id = $1`,
      [invocation.id, outcome.status, outcome.acted, outcome.reason, JSON.stringify(decision), outcome.durationMs],
    );
    return planMessages(client, invocation, messages);
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
