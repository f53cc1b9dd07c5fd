import { type JobsOptions, Queue, UnrecoverableError } from "bullmq";
import { z } from "zod";
import { config } from "./config.js";
import {
  closeRedis,
  createBlockingRedis,
  createCommandRedis,
  noteCommandFailure,
  type RedisClient,
  redisDown,
} from "./redis.js";

// The registry of BullMQ queues: each queue's name, payload schema, job options and job id are
// declared once here. Producers add jobs only through the enqueue functions below, so a job is
// built in one place; the worker registers one processor per queue (registerProcessor in
// worker/worker.ts), which checks each payload against the same schema.

/** One queue of the registry. */
export type QueueDefinition<Name extends string, Payload> = {
  /** BullMQ queue name, under queuePrefix(). */
  readonly name: Name;
  /** The name BullMQ stores on each job (dashboards show it; processors do not look at it). */
  readonly jobName: string;
  /** A job's data: checked when it is added and again when a worker takes it. */
  readonly payload: z.ZodType<Payload>;
  /** BullMQ ignores an add whose job id exists: the id comes from a domain id, so enqueueing twice runs once. */
  readonly jobId: (payload: Payload) => string;
  /** Read at each add, from the configuration of the moment. */
  readonly jobOptions: () => JobsOptions;
};

/** Job ids by domain id, with no ':' in them (BullMQ's key separator); the sweepers look them up. */
export const jobIds = {
  agentRun: (eventId: string) => `event-${eventId}`,
  onboarding: (onboardingId: string) => `onboarding-${onboardingId}`,
};

const agentRunJob = z.object({ eventId: z.uuid(), creatorId: z.uuid() });
export type AgentRunJob = z.infer<typeof agentRunJob>;

const onboardingJob = z.object({ onboardingId: z.uuid() });
export type OnboardingJob = z.infer<typeof onboardingJob>;

export const queues = {
  /** One job per event: run the creator's active agents on it. */
  agentRuns: defineQueue({
    name: "agent-runs",
    jobName: "agent-run",
    payload: agentRunJob,
    jobId: ({ eventId }) => jobIds.agentRun(eventId),
    /**
     * An agent-run job lives only while it waits, runs or waits for a retry: the database is the
     * record (the event's processedAt and failedAt, its invocations). A finished or exhausted job
     * is removed, so the dispatch sweeper can always enqueue an unprocessed event again under its id.
     */
    jobOptions: () => {
      const { AGENT_JOB_ATTEMPTS, AGENT_RETRY_DELAY_MS } = config();
      return {
        attempts: AGENT_JOB_ATTEMPTS,
        backoff: { type: "exponential", delay: AGENT_RETRY_DELAY_MS },
        removeOnComplete: true,
        removeOnFail: true,
      };
    },
  }),
  /** One job per onboarding: build the profile and deploy the agent. */
  onboarding: defineQueue({
    name: "onboarding",
    jobName: "onboard",
    payload: onboardingJob,
    jobId: ({ onboardingId }) => jobIds.onboarding(onboardingId),
    /**
     * The job lives only while it waits or runs: the onboarding row is the record, and the
     * stranded sweep can always queue it again under its id. The OpenAI client already retries
     * rate limits, timeouts and server errors; a run that still fails is recorded as FAILED, and
     * another try is a new run (regenerateProfile).
     */
    jobOptions: () => ({ attempts: 1, removeOnComplete: true, removeOnFail: true }),
  }),
};

/** Queue names by key, for whoever names a queue rather than adding to it (sweepers, tests, the bench). */
export const QUEUES = { agentRuns: queues.agentRuns.name, onboarding: queues.onboarding.name } as const;

type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

/** Keeps a definition's literal name and ties its job id function to its payload's type. */
function defineQueue<const Name extends string, Payload>(definition: QueueDefinition<Name, Payload>) {
  return definition;
}

/**
 * Enqueues one agent run per event, in one Redis round trip (see `addJobs`). The only producer of
 * agent-run jobs: dispatch batches ingestion and retries through it.
 */
export function addAgentRunJobs(runs: AgentRunJob[]): Promise<void> {
  return addJobs(queues.agentRuns, runs);
}

/** Enqueues an onboarding's run (see `addJobs`); its row must be committed first. */
export function addOnboardingJob(onboardingId: string): Promise<void> {
  return addJobs(queues.onboarding, [{ onboardingId }]);
}

/**
 * Adds one job per payload, each under its job id with the queue's job options, in one round
 * trip. Throws a ZodError for a payload that breaks the queue's schema (a caller's bug: nothing is
 * added), and onQueue's errors when Redis is away or slow (the caller's sweeper enqueues later).
 */
async function addJobs<Payload>(definition: QueueDefinition<QueueName, Payload>, payloads: Payload[]): Promise<void> {
  const opts = definition.jobOptions();
  const jobs = payloads.map((payload) => {
    const data = definition.payload.parse(payload);
    return { name: definition.jobName, data, opts: { ...opts, jobId: definition.jobId(data) } };
  });
  await onQueue(definition.name, (q) => q.addBulk(jobs));
}

/** A job whose data breaks its queue's schema: unrecoverable, so BullMQ fails it at once, as no retry could fix it. */
export class InvalidJobPayload extends UnrecoverableError {}

/**
 * Checks a job's data against its queue's schema, for the worker before it runs the job. Throws
 * InvalidJobPayload, whose message names the queue and each broken field.
 */
export function checkJobPayload<Payload>(
  definition: QueueDefinition<string, Payload>,
  data: unknown,
): asserts data is Payload {
  const parsed = definition.payload.safeParse(data);
  if (!parsed.success) {
    throw new InvalidJobPayload(`Invalid ${definition.name} job payload: ${z.prettifyError(parsed.error)}`);
  }
}

/**
 * BullMQ's key prefix: REDIS_PREFIX as a Redis Cluster hash tag, `{<REDIS_PREFIX>}`. BullMQ's
 * scripts touch several keys of a queue at once, which a cluster allows only within one hash
 * slot, and a key's slot is that of its first `{...}`: every key of a deployment's queues is in
 * the slot of its prefix (BullMQ, "Redis Cluster" pattern). One slot for both queues: agent
 * runs make nearly all the traffic, so a slot per queue would spread nothing. The same on a
 * single Redis, so that moving to a cluster changes no key.
 */
export function queuePrefix(): string {
  return `{${config().REDIS_PREFIX}}`;
}

const producers = new Map<string, { queue: Queue; redis: RedisClient }>();

/** Producer-side queue, created on first use; jobs are added through the enqueue functions above. */
export function queue(name: QueueName): Queue {
  let producer = producers.get(name);
  if (!producer) {
    const redis = createCommandRedis(`closer-producer-${name}`);
    const q = new Queue(name, { connection: redis, prefix: queuePrefix() });
    q.on("error", () => {}); // Connection errors surface on the add call that hits them.
    producer = { queue: q, redis };
    producers.set(name, producer);
  }
  return producer.queue;
}

/**
 * Runs a producer operation (an add, a look-up) within a time bound: BullMQ waits for a Redis
 * connection that may never come; a request must not. It fails at once while the producer's
 * connection is known to be down, and after ENQUEUE_TIMEOUT_MS otherwise; the caller falls back
 * (the sweepers enqueue later).
 */
async function onQueue<T>(name: QueueName, work: (queue: Queue) => Promise<T>): Promise<T> {
  const q = queue(name);
  if (redisDown(producers.get(name)?.redis as RedisClient)) throw new Error("Redis unavailable: enqueue skipped");
  const added = work(q);
  added.catch((error) => noteCommandFailure(producers.get(name)?.redis as RedisClient, error));
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("enqueue timed out: Redis unavailable")), config().ENQUEUE_TIMEOUT_MS);
  });
  try {
    return await Promise.race([added, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Which of these job ids have no job in the queue (waiting, delayed, active, or kept), in one
 * round trip (one hash slot on a cluster: see queuePrefix). Throws when Redis does not answer in
 * time (see onQueue).
 */
export function jobsMissing(name: QueueName, ids: string[]): Promise<boolean[]> {
  return onQueue(name, async (q) => {
    const pipeline = (producers.get(name) as { redis: RedisClient }).redis.pipeline();
    for (const id of ids) pipeline.exists(q.toKey(id));
    const answers = (await pipeline.exec()) ?? [];
    return answers.map(([error, exists]) => {
      if (error) throw error;
      return exists === 0;
    });
  });
}

export function workerConnection(name: string) {
  return createBlockingRedis(`closer-worker-${name}`);
}

export async function closeQueues(): Promise<void> {
  // Queue.close() waits for a connection that may never come: the connection is closed directly.
  await Promise.all([...producers.values()].map(({ redis }) => closeRedis(redis)));
  producers.clear();
}
