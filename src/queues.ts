import { type JobsOptions, Queue } from "bullmq";
import type { Redis } from "ioredis";
import { z } from "zod";
import { config } from "./config.js";
import { closeRedis, createBlockingRedis, createCommandRedis, noteCommandFailure, redisDown } from "./redis.js";

// Queue names, payloads and job ids in one place; the worker registers processors for them.

export const QUEUES = {
  /** One job per event: run the creator's active agents on it. */
  agentRuns: "agent-runs",
  /** One job per onboarding: build the profile and deploy the agent. */
  onboarding: "onboarding",
} as const;

export const agentRunJob = z.object({ eventId: z.uuid(), creatorId: z.uuid() });

export const onboardingJob = z.object({ onboardingId: z.uuid() });
export type OnboardingJob = z.infer<typeof onboardingJob>;

type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

/** Job ids come from domain ids (BullMQ ignores an add whose id exists), with no ':' in them. */
export const jobIds = {
  agentRun: (eventId: string) => `event-${eventId}`,
  onboarding: (onboardingId: string) => `onboarding-${onboardingId}`,
};

/**
 * An agent-run job lives only while it waits, runs or waits for a retry: the database is the
 * record (the event's processedAt and failedAt, its invocations). A finished or exhausted job is
 * removed, so the dispatch sweeper can always enqueue an unprocessed event again under its id.
 */
export function agentRunJobOptions(): JobsOptions {
  const { AGENT_JOB_ATTEMPTS, AGENT_RETRY_DELAY_MS } = config();
  return {
    attempts: AGENT_JOB_ATTEMPTS,
    backoff: { type: "exponential", delay: AGENT_RETRY_DELAY_MS },
    removeOnComplete: true,
    removeOnFail: true,
  };
}

const producers = new Map<string, { queue: Queue; redis: Redis }>();

/** Producer-side queue, created on first use; see `enqueue` for adding within a time bound. */
export function queue(name: QueueName): Queue {
  let producer = producers.get(name);
  if (!producer) {
    const redis = createCommandRedis(`closer-producer-${name}`);
    const q = new Queue(name, { connection: redis, prefix: config().REDIS_PREFIX });
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
export async function onQueue<T>(name: QueueName, work: (queue: Queue) => Promise<T>): Promise<T> {
  const q = queue(name);
  if (redisDown(producers.get(name)?.redis as Redis)) throw new Error("Redis unavailable: enqueue skipped");
  const added = work(q);
  added.catch((error) => noteCommandFailure(producers.get(name)?.redis as Redis, error));
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
 * round trip. Throws when Redis does not answer in time (see onQueue).
 */
export function jobsMissing(name: QueueName, ids: string[]): Promise<boolean[]> {
  return onQueue(name, async (q) => {
    const pipeline = (producers.get(name) as { redis: Redis }).redis.pipeline();
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
