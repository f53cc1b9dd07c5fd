import { z } from "zod";
import { recordAudit } from "../audit/audit-log.js";
import { lockCreator } from "../creators/creator-store.js";
import { inTransaction, type Sql } from "../db/transaction.js";
import { ConflictError, NotFoundError, ValidationError } from "../errors.js";
import { enqueueAgentRuns } from "../events/dispatch.js";
import { reopenEvent } from "../events/event-store.js";
import type { CreatorProfile } from "../generated/prisma/client.js";
import { outboundAllowList, refusedUrl } from "../outbound/guarded-http.js";
import type { ProfileContent } from "../profiles/profile-content.js";
import { findActiveProfile } from "../profiles/profile-store.js";
import type { Viewer } from "../viewer.js";
import {
  type AgentConfig,
  agentConfigSchema,
  externalHttpSchema,
  type ProfileSnapshot,
  tunablesSchema,
} from "./agent-config.js";
import {
  agentsOfCreator,
  findAgentByName,
  findAgentForUpdate,
  findInvocationForUpdate,
  insertAgent,
  requeueInvocation,
  setAgentConfig,
  setAgentStatusRow,
  updateAgent,
} from "./agent-store.js";
import { agentClasses } from "./registry.js";
import { runtimes } from "./runtimes/index.js";

export const GENERIC_SALES_AGENT = "generic_sales";
export const DEFAULT_AGENT_NAME = "Sales agent";

export function snapshotOf(profile: CreatorProfile, creatorName: string): ProfileSnapshot {
  return {
    profileId: profile.id,
    version: profile.version,
    creatorName,
    summary: profile.summary,
    salesPitch: profile.salesPitch,
    targetAudience: profile.targetAudience,
    valuePropositions: profile.valuePropositions,
    services: profile.services as ProfileContent["services"],
    agentInstructions: profile.agentInstructions,
    objectionHandling: profile.objectionHandling as ProfileContent["objectionHandling"],
  };
}

const deployInput = z
  .object({
    creatorId: z.uuid(),
    name: z.string().trim().min(1).max(100).default(DEFAULT_AGENT_NAME),
    /** Unset: the agent's current kind, or the generic sales agent for a new one. */
    kind: z.string().optional(),
    /** Unset: the agent's current runtime, or SIMPLE for a new one. */
    runtime: z.enum(["SIMPLE", "LANGGRAPH", "EXTERNAL_HTTP"]).optional(),
    tunables: tunablesSchema.partial().optional(),
    externalHttp: externalHttpSchema.optional(),
  })
  .refine((a) => a.kind === undefined || Object.hasOwn(agentClasses, a.kind), {
    message: `unknown agent kind (registered: ${Object.keys(agentClasses).join(", ")})`,
    path: ["kind"],
  })
  .refine((a) => a.runtime === undefined || Object.hasOwn(runtimes, a.runtime), {
    message: `runtime not available in this deployment (available: ${Object.keys(runtimes).join(", ")})`,
    path: ["runtime"],
  });

export type DeployAgentInput = z.input<typeof deployInput>;

/**
 * Deploys an agent for a creator, or updates the one of that name: the active profile goes into
 * its config, and what the input leaves unset (kind, runtime, each tunable, the external service)
 * keeps its current value. Runs in the caller's transaction when given one (onboarding deploys
 * with its profile). Raises ValidationError, NotFoundError.
 */
export async function deployAgent(input: DeployAgentInput, actor: Viewer | null, tx?: Sql) {
  const parsed = deployInput.safeParse(input);
  if (!parsed.success) throw ValidationError.fromZod(parsed.error);
  const { creatorId, name, kind, runtime, tunables, externalHttp } = parsed.data;
  if (externalHttp) {
    // The worker checks every connection too (DNS may change); this says it at once, by field.
    const refused = await refusedUrl(externalHttp.url, outboundAllowList());
    if (refused) {
      throw new ValidationError(`Invalid input: externalHttp.url: ${refused}`, [
        { path: "externalHttp.url", message: refused },
      ]);
    }
  }
  const work = async (t: Sql) => {
    const creator = await lockCreator(t, creatorId);
    if (!creator) throw new NotFoundError("Creator", creatorId);
    const profile = await findActiveProfile(t, creatorId);
    const existing = await findAgentByName(t, creatorId, name);
    const previous = existing ? agentConfigSchema.parse(existing.config) : agentConfigSchema.parse({});
    // Only the tunables the caller sent: parsing fills the others with defaults.
    const sentTunables = Object.fromEntries(
      Object.entries(tunables ?? {}).filter(([key]) => input.tunables?.[key as keyof typeof input.tunables] != null),
    );
    const config: AgentConfig = {
      profile: profile ? snapshotOf(profile, creator.name) : previous.profile,
      tunables: tunablesSchema.parse({ ...previous.tunables, ...sentTunables }),
      externalHttp: externalHttp ?? previous.externalHttp,
    };
    const resolvedKind = kind ?? existing?.kind ?? GENERIC_SALES_AGENT;
    const resolvedRuntime = runtime ?? existing?.runtime ?? "SIMPLE";
    if (resolvedRuntime === "EXTERNAL_HTTP" && !config.externalHttp) {
      throw new ValidationError("Invalid input: externalHttp: EXTERNAL_HTTP agents need externalHttp (url, secret)", [
        { path: "externalHttp", message: "EXTERNAL_HTTP agents need externalHttp (url, secret)" },
      ]);
    }
    const data = {
      kind: resolvedKind,
      runtime: resolvedRuntime,
      config,
      profileId: profile?.id ?? existing?.profileId ?? null,
    };
    const agent = existing
      ? await updateAgent(t, existing.id, data)
      : await insertAgent(t, { ...data, creatorId, name });
    await recordAudit(t, actor, {
      operation: existing ? "agent.update" : "agent.deploy",
      creatorId,
      targetType: "Agent",
      targetId: agent.id,
      details: { kind: resolvedKind, runtime: resolvedRuntime, name, profileVersion: profile?.version ?? null },
    });
    return agent;
  };
  return tx ? work(tx) : inTransaction(work);
}

/** Points every agent of the creator at the newly active profile, in the activation's transaction. */
export async function syncAgentsToProfile(tx: Sql, profile: CreatorProfile, creatorName: string): Promise<void> {
  for (const agent of await agentsOfCreator(tx, profile.creatorId)) {
    const config = agentConfigSchema.parse(agent.config);
    await setAgentConfig(tx, agent.id, profile.id, { ...config, profile: snapshotOf(profile, creatorName) });
  }
}

export async function setAgentStatus(agentId: string, status: "ACTIVE" | "PAUSED", actor: Viewer | null) {
  return inTransaction(async (tx) => {
    const agent = await findAgentForUpdate(tx, agentId);
    if (!agent) throw new NotFoundError("Agent", agentId);
    const updated = await setAgentStatusRow(tx, agentId, status);
    await recordAudit(tx, actor, {
      operation: status === "PAUSED" ? "agent.pause" : "agent.resume",
      creatorId: agent.creatorId,
      targetType: "Agent",
      targetId: agentId,
    });
    return updated;
  });
}

/**
 * Runs a failed invocation again (the dead-letter view's retry): only its agent, on the same
 * event. The event is reopened in the same transaction, so if the enqueue is lost (Redis away)
 * the dispatch sweeper runs it. Raises NotFoundError, ConflictError (not FAILED).
 */
export async function retryInvocation(invocationId: string, actor: Viewer | null) {
  const invocation = await inTransaction(async (tx) => {
    const found = await findInvocationForUpdate(tx, invocationId);
    if (!found) throw new NotFoundError("AgentInvocation", invocationId);
    if (found.status !== "FAILED")
      throw new ConflictError(`Only failed invocations can be retried (this one is ${found.status})`);
    const queued = await requeueInvocation(tx, invocationId);
    await reopenEvent(tx, found.eventId);
    await recordAudit(tx, actor, {
      operation: "invocation.retry",
      creatorId: found.creatorId,
      targetType: "AgentInvocation",
      targetId: invocationId,
    });
    return queued;
  });
  await enqueueAgentRuns([{ id: invocation.eventId, creatorId: invocation.creatorId }]);
  return invocation;
}
