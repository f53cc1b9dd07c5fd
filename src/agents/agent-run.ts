import { type Job, UnrecoverableError } from "bullmq";
import type { AgentInvocation } from "../generated/prisma/client.js";
import { logger } from "../logger.js";
import { invocationDuration, invocationOutcomes } from "../observability/metrics.js";
import { publishFeed } from "../pubsub.js";
import { agentRunJob } from "../queues.js";
import { plannedActionSchema } from "./agent.js";
import { agentConfigSchema } from "./agent-config.js";
import {
  claimInvocation,
  completeInvocation,
  failInvocation,
  type LoadedEvent,
  loadEvent,
  markEventProcessed,
  type StoredAction,
} from "./agent-store.js";
import { runtimes } from "./runtimes/index.js";
import type { AgentRecord } from "./runtimes/runtime.js";

async function publishInvocation(invocation: Pick<AgentInvocation, "id" | "creatorId" | "status">) {
  await publishFeed("invocations", invocation.creatorId, {
    creatorId: invocation.creatorId,
    invocationId: invocation.id,
    status: invocation.status,
  });
}

/**
 * Runs one agent on one event. The invocation is unique per (agent, event) and its actions per
 * (invocation, sequence), and the outcome is written in one statement, so a retried or
 * duplicated job never makes a second invocation nor a second copy of an action.
 */
async function announceOutcome(
  invocation: AgentInvocation,
  status: "COMPLETED" | "SKIPPED",
  acted: boolean,
  created: StoredAction[],
) {
  invocationOutcomes.inc({ status });
  await publishInvocation({ ...invocation, status });
  await publishFeed("decisions", invocation.creatorId, {
    creatorId: invocation.creatorId,
    invocationId: invocation.id,
    acted,
  });
  for (const action of created) {
    await publishFeed("actions", action.creatorId, {
      creatorId: action.creatorId,
      actionId: action.id,
      status: action.status,
    });
  }
}

/** A plan found stale is decided again on fresh context, this many times at most. */
const MAX_DECISION_ROUNDS = 3;

async function runAgent(agent: AgentRecord, loaded: LoadedEvent, finalAttempt: boolean) {
  const { event } = loaded;
  const invocation = await claimInvocation(agent.id, event);
  if (!invocation) return; // Already finished by an earlier run.
  await publishInvocation(invocation);

  try {
    const runtime = runtimes[agent.runtime];
    if (!runtime) throw new UnrecoverableError(`The ${agent.runtime} runtime is not available`);
    let current = loaded;
    for (let round = 1; ; round++) {
      const stopTimer = invocationDuration.startTimer();
      const { decision, actions: planned, trace } = await runtime.run(agent, current.ctx, event);
      stopTimer();
      const actions = planned.map((a) => plannedActionSchema.parse(a));
      const status = decision.act ? "COMPLETED" : "SKIPPED";
      const created = await completeInvocation(
        invocation,
        current.actionCount,
        {
          status,
          acted: decision.act,
          reason: decision.reason,
          decision: {
            ...decision,
            agentKind: agent.kind,
            runtime: agent.runtime,
            profileVersion: agentConfigSchema.parse(agent.config).profile?.version ?? null,
            ...(trace ? { trace } : {}),
            ...(round > 1 ? { redecided: round - 1 } : {}),
            actions: actions.map((a) => ({
              channel: a.channel,
              template: (a.payload as { template?: string }).template ?? null,
              sendAt: a.sendAt.toISOString(),
              priority: a.priority,
            })),
          },
          durationMs: Date.now() - (invocation.startedAt?.getTime() ?? Date.now()),
        },
        actions,
      );
      if (created === null) {
        // Another run messaged this consumer meanwhile: decide again on the fresh context.
        if (round >= MAX_DECISION_ROUNDS) throw new Error("the consumer's context kept changing while deciding");
        current = (await loadEvent(event.id)) ?? current;
        continue;
      }
      await announceOutcome(invocation, status, decision.act, created);
      return;
    }
  } catch (error) {
    const final = finalAttempt || error instanceof UnrecoverableError;
    const failed = await failInvocation(invocation.id, error instanceof Error ? error.message : String(error), final);
    if (final) invocationOutcomes.inc({ status: "FAILED" });
    await publishInvocation(failed);
    throw error;
  }
}

/**
 * The agent-runs processor: runs every active agent of the creator on the event. An agent that
 * fails does not hold the others back; the job fails (and BullMQ retries it) until the last
 * attempt, after which the failure stays on the invocation for an operator to retry.
 */
export async function processAgentRun(job: Job): Promise<void> {
  const { eventId } = agentRunJob.parse(job.data);
  const finalAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
  const loaded = await loadEvent(eventId);
  if (!loaded) {
    logger.warn({ eventId }, "event no longer exists; nothing to run");
    return;
  }
  const failures: unknown[] = [];
  for (const agent of loaded.agents) {
    await runAgent(agent, loaded, finalAttempt).catch((error) => failures.push(error));
  }
  const retryLater = failures.length > 0 && !finalAttempt && !failures.every((f) => f instanceof UnrecoverableError);
  if (!retryLater) await markEventProcessed(eventId);
  // A retryable failure is thrown first, so BullMQ retries the agents that can still succeed.
  if (failures.length > 0) throw failures.find((f) => !(f instanceof UnrecoverableError)) ?? failures[0];
}
