import { type Job, UnrecoverableError } from "bullmq";
import { db } from "../db/client.js";
import type { Agent, AgentInvocation, Prisma } from "../generated/prisma/client.js";
import { logger } from "../logger.js";
import { invocationDuration, invocationOutcomes } from "../observability/metrics.js";
import { publishFeed } from "../pubsub.js";
import { agentRunJob } from "../queues.js";
import { type AgentContext, type AgentEvent, plannedActionSchema } from "./agent.js";
import { agentConfigSchema } from "./agent-config.js";
import { runtimes } from "./runtimes/index.js";

const FINISHED = new Set(["COMPLETED", "SKIPPED", "FAILED"]);

async function loadContext(eventId: string) {
  const event = await db.event.findUnique({
    where: { id: eventId },
    include: { creator: true, consumer: { include: { consents: true, context: true } } },
  });
  if (!event?.consumer.context) return null;
  const previousActions = await db.action.findMany({
    where: { consumerId: event.consumerId, status: { not: "CANCELLED" } },
    orderBy: { sendAt: "desc" },
    take: 50,
    select: { channel: true, status: true, sendAt: true, payload: true },
  });
  const { consumer, creator } = event;
  const ctx: AgentContext = {
    now: new Date(),
    creator: { id: creator.id, name: creator.name, timezone: creator.timezone },
    consumer: {
      id: consumer.id,
      name: consumer.name,
      email: consumer.email,
      phone: consumer.phone,
      timezone: consumer.timezone,
      consentedChannels: consumer.consents.filter((c) => c.status === "GRANTED").map((c) => c.channel),
    },
    context: consumer.context as NonNullable<typeof consumer.context>,
    previousActions: previousActions.map((a) => ({
      channel: a.channel,
      status: a.status,
      sendAt: a.sendAt,
      template:
        typeof (a.payload as { template?: unknown }).template === "string"
          ? (a.payload as { template: string }).template
          : null,
    })),
  };
  const agentEvent: AgentEvent = {
    id: event.id,
    type: event.type,
    payload: event.payload as Record<string, unknown>,
    occurredAt: event.occurredAt,
  };
  return { event, ctx, agentEvent };
}

async function publishInvocation(invocation: AgentInvocation) {
  await publishFeed("invocations", invocation.creatorId, {
    creatorId: invocation.creatorId,
    invocationId: invocation.id,
    status: invocation.status,
  });
}

/**
 * Runs one agent on one event. The invocation row is unique per (agent, event) and its actions
 * per (invocation, sequence), and both are written in one transaction, so a retried or duplicated
 * job never makes a second invocation nor a second copy of an action.
 */
async function runAgent(
  agent: Agent,
  loaded: NonNullable<Awaited<ReturnType<typeof loadContext>>>,
  finalAttempt: boolean,
) {
  const { event, ctx, agentEvent } = loaded;
  const existing = await db.agentInvocation.upsert({
    where: { agentId_eventId: { agentId: agent.id, eventId: event.id } },
    create: { agentId: agent.id, eventId: event.id, creatorId: event.creatorId, consumerId: event.consumerId },
    update: {},
  });
  if (FINISHED.has(existing.status)) return;

  const started = new Date();
  const running = await db.agentInvocation.update({
    where: { id: existing.id },
    data: { status: "RUNNING", attempts: { increment: 1 }, startedAt: started, error: null },
  });
  await publishInvocation(running);

  try {
    const runtime = runtimes[agent.runtime];
    if (!runtime) throw new UnrecoverableError(`The ${agent.runtime} runtime is not available`);
    const stopTimer = invocationDuration.startTimer();
    const { decision, actions: planned, trace } = await runtime.run(agent, ctx, agentEvent);
    stopTimer();
    const actions = planned.map((a) => plannedActionSchema.parse(a));
    const finished = new Date();
    const profileVersion = agentConfigSchema.parse(agent.config).profile?.version ?? null;
    const [created, invocation] = await db.$transaction([
      db.action.createManyAndReturn({
        data: actions.map((a, sequence) => ({
          invocationId: existing.id,
          sequence,
          creatorId: event.creatorId,
          consumerId: event.consumerId,
          channel: a.channel,
          payload: a.payload as Prisma.InputJsonValue,
          sendAt: a.sendAt,
          priority: a.priority,
        })),
        skipDuplicates: true,
      }),
      db.agentInvocation.update({
        where: { id: existing.id },
        data: {
          status: decision.act ? "COMPLETED" : "SKIPPED",
          acted: decision.act,
          reason: decision.reason,
          decision: {
            ...decision,
            agentKind: agent.kind,
            runtime: agent.runtime,
            profileVersion,
            ...(trace ? { trace } : {}),
            actions: actions.map((a) => ({
              channel: a.channel,
              template: (a.payload as { template?: string }).template ?? null,
              sendAt: a.sendAt.toISOString(),
              priority: a.priority,
            })),
          },
          finishedAt: finished,
          durationMs: finished.getTime() - started.getTime(),
        },
      }),
    ]);
    invocationOutcomes.inc({ status: invocation.status });
    await publishInvocation(invocation);
    await publishFeed("decisions", invocation.creatorId, {
      creatorId: invocation.creatorId,
      invocationId: invocation.id,
      acted: decision.act,
    });
    for (const action of created) {
      await publishFeed("actions", action.creatorId, {
        creatorId: action.creatorId,
        actionId: action.id,
        status: action.status,
      });
    }
  } catch (error) {
    const final = finalAttempt || error instanceof UnrecoverableError;
    const message = error instanceof Error ? error.message : String(error);
    const failed = await db.agentInvocation.update({
      where: { id: existing.id },
      data: final
        ? { status: "FAILED", error: message, finishedAt: new Date(), durationMs: Date.now() - started.getTime() }
        : { status: "QUEUED", error: `attempt failed, will retry: ${message}` },
    });
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
  const loaded = await loadContext(eventId);
  if (!loaded) {
    logger.warn({ eventId }, "event no longer exists; nothing to run");
    return;
  }
  const agents = await db.agent.findMany({ where: { creatorId: loaded.event.creatorId, status: "ACTIVE" } });
  const failures: unknown[] = [];
  for (const agent of agents) {
    await runAgent(agent, loaded, finalAttempt).catch((error) => failures.push(error));
  }
  const retryLater = failures.length > 0 && !finalAttempt && !failures.every((f) => f instanceof UnrecoverableError);
  if (!retryLater) await db.event.update({ where: { id: eventId }, data: { processedAt: new Date() } });
  // A retryable failure is thrown first, so BullMQ retries the agents that can still succeed.
  if (failures.length > 0) throw failures.find((f) => !(f instanceof UnrecoverableError)) ?? failures[0];
}
