import { type JobsOptions, Queue } from "bullmq";
import type { Redis } from "ioredis";
import { z } from "zod";
import { config } from "./config.js";
import { closeRedis, createBlockingRedis, createCommandRedis } from "./redis.js";

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

/** Job ids come from domain ids (BullMQ ignores an add whose id exists), with no ':' in them. */
export const jobIds = {
  agentRun: (eventId: string) => `event-${eventId}`,
  agentRetry: (eventId: string, nonce: string) => `event-${eventId}-retry-${nonce}`,
  onboarding: (onboardingId: string) => `onboarding-${onboardingId}`,
};

export function agentRunJobOptions(): JobsOptions {
  const { AGENT_JOB_ATTEMPTS, AGENT_RETRY_DELAY_MS } = config();
  return {
    attempts: AGENT_JOB_ATTEMPTS,
    backoff: { type: "exponential", delay: AGENT_RETRY_DELAY_MS },
    removeOnComplete: { age: 3600, count: 10_000 },
    removeOnFail: { age: 7 * 24 * 3600 },
  };
}

const producers = new Map<string, { queue: Queue; redis: Redis }>();

/** Producer-side queue, created on first use; it fails fast when Redis is away. */
export function queue(name: (typeof QUEUES)[keyof typeof QUEUES]): Queue {
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
 * BullMQ waits for a Redis connection that may never come; a request must not. The add is
 * abandoned after ENQUEUE_TIMEOUT_MS and the caller falls back (the sweepers enqueue later).
 */
export async function enqueueWithin<T>(added: Promise<T>): Promise<T> {
  added.catch(() => {});
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

export function workerConnection(name: string) {
  return createBlockingRedis(`closer-worker-${name}`);
}

export async function closeQueues(): Promise<void> {
  // Queue.close() waits for a connection that may never come: the connection is closed directly.
  await Promise.all([...producers.values()].map(({ redis }) => closeRedis(redis)));
  producers.clear();
}
