import { RedisPubSub } from "graphql-redis-subscriptions";
import { config } from "./config.js";
import type { ActionStatus, InvocationStatus } from "./generated/prisma/enums.js";
import { logger } from "./logger.js";
import { closeRedis, createBlockingRedis, createCommandRedis, noteCommandFailure, redisDown } from "./redis.js";

// Topics and payloads of the live feed. Payloads carry ids and small facts only: subscription
// fields refetch rows through Prisma, since Redis serialises to JSON (Dates, fresh state are lost).

export type DecisionMessage = { creatorId: string; invocationId: string; acted: boolean };
/** An agent run changed status: `status` is the one it changed to. */
export type InvocationMessage = { creatorId: string; invocationId: string; status: InvocationStatus };
/** An action changed status: `status` is the one it changed to. */
export type ActionMessage = { creatorId: string; actionId: string; status: ActionStatus };
export type OnboardingMessage = { creatorId: string; onboardingId: string; logId: string | null; status: string };
export type ConversationFeedMessage = { creatorId: string; conversationId: string; holder: string };

type Feed = "decisions" | "invocations" | "actions" | "onboarding" | "conversations";

/** Channel of one creator's feed (or of one onboarding run's progress). */
export function topic(feed: Feed, scope: string): string {
  return `${config().REDIS_PREFIX}:feed:${feed}:${scope}`;
}

/** The pattern of every creator's channel of a feed: the platform feed operators watch. */
export function platformPattern(feed: Feed): string {
  return `${config().REDIS_PREFIX}:feed:${feed}:*`;
}

let pubsub: RedisPubSub | undefined;

/**
 * One publisher and one subscriber connection per process, created on first use. The publisher
 * pipelines the commands of one event-loop turn into one write (ioredis' auto-pipelining): a batch
 * of status changes costs one system call, not one per message.
 */
export function livePubSub(): RedisPubSub {
  pubsub ??= new RedisPubSub({
    publisher: createCommandRedis("closer-publisher", { enableAutoPipelining: true }),
    subscriber: createBlockingRedis("closer-subscriber"),
  });
  return pubsub;
}

/**
 * Publishes on a channel, bounded by REDIS_COMMAND_TIMEOUT_MS and skipped at once while the
 * publisher is known to be down. Best effort: a Redis outage must never fail or slow down the
 * work it reports (the rows are the record). Returns whether Redis took the message.
 */
export async function publishBestEffort(channel: string, message: object): Promise<boolean> {
  const live = livePubSub();
  if (redisDown(live.getPublisher())) return false;
  try {
    await live.publish(channel, message);
    return true;
  } catch (error) {
    noteCommandFailure(live.getPublisher(), error);
    logger.warn({ err: error, channel }, "live feed publish failed");
    return false;
  }
}

/** Publishes to the creator's feed, once: platform subscribers listen by pattern. */
export async function publishFeed(feed: Feed, creatorId: string, message: object): Promise<void> {
  await publishBestEffort(topic(feed, creatorId), message);
}

export async function closePubSub(): Promise<void> {
  if (pubsub) {
    await Promise.all([pubsub.getPublisher(), pubsub.getSubscriber()].map((client) => closeRedis(client)));
  }
  pubsub = undefined;
}
