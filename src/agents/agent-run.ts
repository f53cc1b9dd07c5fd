import { DelayedError, type Job, UnrecoverableError } from "bullmq";
import { publishConversationChanges } from "../conversations/conversation-feed.js";
import { inboundMessagesOf } from "../conversations/conversation-store.js";
import { publishActionChanges } from "../delivery/action-feed.js";
import { ConflictError } from "../errors.js";
import { markEventsFailed, markEventsProcessed } from "../events/event-store.js";
import { recordConsumerEvent } from "../events/ingest.js";
import type { AgentInvocation } from "../generated/prisma/client.js";
import type { Channel } from "../generated/prisma/enums.js";
import { logger } from "../logger.js";
import { invocationDuration, invocationOutcomes } from "../observability/metrics.js";
import { isOutage } from "../outages.js";
import { publishFeed } from "../pubsub.js";
import type { AgentRunJob } from "../queues.js";
import { plannedActionSchema } from "./agent.js";
import { agentConfigSchema } from "./agent-config.js";
import {
  claimInvocations,
  completeInvocations,
  failInvocation,
  type LoadedEvent,
  loadEvents,
  type PlanOutcome,
} from "./agent-store.js";
import { Batcher } from "./batcher.js";
import { guardMessages } from "./guardrail.js";
import { runtimes } from "./runtimes/index.js";
import type { AgentRecord } from "./runtimes/runtime.js";

// The steps of concurrent runs (the worker runs WORKER_CONCURRENCY jobs at once) are gathered
// into set-based statements: one load, one claim, one outcome transaction and one processed mark
// per batch (see Batcher). One batch of a step at a time makes the batches as large as what
// arrives during a round trip; the outcome transaction may wait on a consumer's lock held by
// another worker process, so a second one may run meanwhile. Loads run up to four at once: a load
// reads each consumer's history (activity gaps), so a consumer with a very long one makes its batch
// slow, and that batch must not hold up every other creator's runs. MAX_BATCH bounds a statement's size.
const MAX_BATCH = 100;
const loads = new Batcher(loadEvents, { maxBatch: MAX_BATCH, maxInFlight: 4 });
const claims = new Batcher(claimInvocations, { maxBatch: MAX_BATCH, maxInFlight: 1 });
const completions = new Batcher(completeInvocations, { maxBatch: MAX_BATCH, maxInFlight: 2 });
const processedMarks = new Batcher(
  async (eventIds: string[]) => {
    await markEventsProcessed(eventIds);
    return eventIds.map(() => undefined);
  },
  { maxBatch: MAX_BATCH, maxInFlight: 1 },
);

async function publishInvocation(invocation: Pick<AgentInvocation, "id" | "creatorId" | "status">) {
  await publishFeed("invocations", invocation.creatorId, {
    creatorId: invocation.creatorId,
    invocationId: invocation.id,
    status: invocation.status,
  });
}

/**
 * Announces a finished run after commit: the invocation, the decision, the actions it planned or
 * cancelled, and a conversation it handed to the creator. The publishes go out together: one
 * publisher connection sends them in this order, and none waits for the previous one's answer.
 * Never throws (publishes are best effort).
 */
async function announceOutcome(
  invocation: AgentInvocation,
  status: "COMPLETED" | "SKIPPED",
  acted: boolean,
  outcome: PlanOutcome,
) {
  invocationOutcomes.inc({ status });
  await Promise.all([
    publishInvocation({ ...invocation, status }),
    publishFeed("decisions", invocation.creatorId, {
      creatorId: invocation.creatorId,
      invocationId: invocation.id,
      acted,
    }),
    publishActionChanges([
      ...outcome.created,
      ...outcome.cancelled.map((a) => ({ ...a, status: "CANCELLED" as const })),
    ]),
    publishConversationChanges(outcome.handedOff),
  ]);
}

/** A finished run's announcement, under way (see runAgents). */
type Announcement = { published: Promise<void> };

/**
 * An opt-out the consumer wrote in their own words, recorded as an `unsubscribed` event on every
 * channel before the decision is stored (the event's key makes a retried run record it once):
 * consent is withdrawn and planned messages cancelled by ingestion's own rules.
 */
async function recordOptOut(event: LoadedEvent["event"], channel: true | Channel, now: Date): Promise<void> {
  try {
    await recordConsumerEvent(event.creatorId, event.consumerId, {
      type: "unsubscribed",
      payload: {
        source: "the consumer's words",
        messageEventId: event.id,
        ...(channel === true ? {} : { channel }),
      },
      // As of when it was understood: consent given with the message itself is withdrawn too.
      occurredAt: now,
      idempotencyKey: `opt-out:${event.id}`,
    });
  } catch (error) {
    // A retried run finds its own earlier opt-out under the key (at another time): already done.
    if (!(error instanceof ConflictError)) throw error;
  }
}

/** Why a paused agent's invocation is skipped. */
export const PAUSED_REASON = "agent paused when the event arrived: not run, and not replayed on resume";

/** A plan found stale is decided again on fresh context, this many times at most. */
const MAX_DECISION_ROUNDS = 3;

/**
 * Runs one agent on the event, recording the invocation; answers its announcement, under way, or
 * nothing when the invocation had already finished. Throws the run's failure once it is recorded.
 */
async function runAgent(
  agent: AgentRecord,
  loaded: LoadedEvent,
  finalAttempt: boolean,
): Promise<Announcement | undefined> {
  const { event } = loaded;
  const messageChannel = inboundMessagesOf([event])[0]?.channel ?? null;
  const inboundSubject = typeof event.payload.subject === "string" ? event.payload.subject : null;
  const invocation = await claims.call({ agentId: agent.id, event, eventReceivedAt: loaded.eventReceivedAt });
  if (!invocation) return; // Already finished by an earlier run.
  // Not awaited: the run need not wait on Redis (best effort, never throws), and the publisher
  // connection still sends it before the outcome's. So the runs of a batch reach their next
  // step together (Batcher) rather than one Redis answer apart.
  void publishInvocation(invocation);
  if (agent.status === "PAUSED") {
    // Paused means not acting on what happens meanwhile: the event is recorded as skipped for
    // this agent, and resumeAgent does not replay it (a welcome hours late would be wrong).
    const created = await completions.call({
      invocation,
      loadedActionCount: loaded.actionCount,
      outcome: {
        status: "SKIPPED",
        acted: false,
        reason: PAUSED_REASON,
        decision: { act: false, reason: PAUSED_REASON, rule: "paused", agentKind: agent.kind, runtime: agent.runtime },
        durationMs: 0,
      },
      proposed: [],
      messageChannel: null,
    });
    return created ? { published: announceOutcome(invocation, "SKIPPED", false, created) } : undefined;
  }

  try {
    const runtime = runtimes[agent.runtime];
    if (!runtime) throw new UnrecoverableError(`The ${agent.runtime} runtime is not available`);
    const { profile } = agentConfigSchema.parse(agent.config);
    let current = loaded;
    for (let round = 1; ; round++) {
      const stopTimer = invocationDuration.startTimer();
      const outcome = await runtime.run(agent, current.ctx, event);
      stopTimer();
      const { trace } = outcome;
      const { decision, actions } = guardMessages(
        outcome.decision,
        outcome.actions.map((a) => plannedActionSchema.parse(a)),
        { profile, ctx: current.ctx, messageChannel, inboundSubject },
      );
      const status = decision.act ? "COMPLETED" : "SKIPPED";
      if (decision.optOut) await recordOptOut(event, decision.optOut, current.ctx.now);
      const created = await completions.call({
        invocation,
        loadedActionCount: current.actionCount,
        outcome: {
          status,
          acted: decision.act,
          reason: decision.reason,
          decision: {
            ...decision,
            agentKind: agent.kind,
            runtime: agent.runtime,
            profileVersion: profile?.version ?? null,
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
        proposed: actions,
        messageChannel,
        effects: {
          handOff: decision.handOff && { ...decision.handOff, at: current.ctx.now },
          supersedes: decision.supersedes,
          read: decision.read,
        },
      });
      if (created === null) {
        // Another run messaged this consumer meanwhile: decide again on the fresh context.
        if (round >= MAX_DECISION_ROUNDS) throw new Error("the consumer's context kept changing while deciding");
        current = (await loads.call({ eventId: event.id, now: current.ctx.now })) ?? current;
        continue;
      }
      return { published: announceOutcome(invocation, status, decision.act, created) };
    }
  } catch (error) {
    // An outage is never final: the run waits for PostgreSQL or Redis to come back (the sweeper).
    const final = (finalAttempt && !isOutage(error)) || error instanceof UnrecoverableError;
    const failed = await failInvocation(invocation.id, error instanceof Error ? error.message : String(error), final);
    if (final) invocationOutcomes.inc({ status: "FAILED" });
    await publishInvocation(failed);
    throw error;
  }
}

/**
 * Runs every active agent of the creator on the event. An agent that fails does not hold the
 * others back; their failures are recorded on their invocations. The event is marked processed
 * unless a failure can still be retried: by BullMQ before the last attempt, or after an outage,
 * at any attempt, by the dispatch sweeper once the job has ended. `now` is the agents' clock (the
 * evaluation replays histories days apart through it).
 */
export async function runAgents(
  eventId: string,
  finalAttempt: boolean,
  now = new Date(),
): Promise<{ waitUntil: Date } | undefined> {
  const loaded = await loads.call({ eventId, now });
  if (!loaded) {
    logger.warn({ eventId }, "event no longer exists; nothing to run");
    return;
  }
  const waitUntil = burstWait(loaded);
  if (waitUntil) return { waitUntil };
  const failures: unknown[] = [];
  const announcements: Promise<void>[] = [];
  for (const agent of loaded.agents) {
    await runAgent(agent, loaded, finalAttempt).then(
      (announcement) => announcement && announcements.push(announcement.published),
      (error) => failures.push(error),
    );
  }
  const outage = failures.find(isOutage);
  const retryable = failures.find((f) => !(f instanceof UnrecoverableError));
  const retryLater = outage !== undefined || (retryable !== undefined && !finalAttempt);
  // The mark does not wait for the announcements' answers from Redis, so the runs of a batch
  // mark their events together; the job ends once both are done.
  await Promise.all([retryLater ? undefined : processedMarks.call(eventId), ...announcements]);
  // A retryable failure is thrown first, so the agents that can still succeed run again.
  if (failures.length > 0) throw outage ?? retryable ?? failures[0];
}

/**
 * When a consumer's message may be read: once `replyDelaySeconds` (the longest of the creator's
 * active agents) have passed since it was written, so the rest of a burst arrives first and the
 * burst gets one answer. Null when it may be read now, or the event is not a message.
 */
function burstWait(loaded: LoadedEvent): Date | null {
  if (inboundMessagesOf([loaded.event])[0] === undefined || loaded.event.type === "unsubscribed") return null;
  const seconds = Math.max(
    0,
    ...loaded.agents
      .filter((agent) => agent.status === "ACTIVE")
      .map((agent) => agentConfigSchema.parse(agent.config).tunables.replyDelaySeconds),
  );
  const until = loaded.event.occurredAt.getTime() + seconds * 1000;
  return until > loaded.ctx.now.getTime() ? new Date(until) : null;
}

/**
 * The agent-runs processor. A run that fails for good (its last attempt, or unrecoverable) for
 * any reason but an outage, before an invocation could record it, dead-letters the event
 * (failedEvents, retryEvent). After an outage nothing is recorded: the job ends, the event stays
 * unprocessed, and the dispatch sweeper enqueues it again once PostgreSQL and Redis answer. The
 * payload was checked against the queue's schema when the worker took the job (registerProcessor).
 * A consumer's message written moments ago waits for the rest of its burst: the job is moved back
 * to delayed (BullMQ's DelayedError) until burstWait says.
 */
export async function processAgentRun(job: Job<AgentRunJob>): Promise<void> {
  const { eventId } = job.data;
  const finalAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
  let wait: { waitUntil: Date } | undefined;
  try {
    wait = await runAgents(eventId, finalAttempt);
  } catch (error) {
    if ((finalAttempt || error instanceof UnrecoverableError) && !isOutage(error)) {
      await markEventsFailed([{ eventId, reason: error instanceof Error ? error.message : String(error) }]);
    }
    throw error;
  }
  if (wait) {
    // The rest of the burst may still come: the job runs again when the wait is over.
    await job.moveToDelayed(wait.waitUntil.getTime(), job.token);
    throw new DelayedError();
  }
}
