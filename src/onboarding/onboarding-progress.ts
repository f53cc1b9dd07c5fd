import { Repeater } from "graphql-yoga";
import { db } from "../db/client.js";
import { NotFoundError } from "../errors.js";
import { livePubSub, type OnboardingMessage, publishBestEffort, publishFeed, topic } from "../pubsub.js";

// Progress of one onboarding run: the worker announces each log row and status change; a
// subscriber gets what already happened, then what happens next, in order, and the stream ends
// with the run. Messages carry ids only; the subscription refetches the rows.

const FINAL_STATUSES = new Set(["SUCCEEDED", "FAILED", "NEEDS_REVIEW"]);

/** To the creator's onboarding feed and the platform feed, and to the run's own topic. Best effort. */
export async function announceProgress(message: OnboardingMessage): Promise<void> {
  await publishFeed("onboarding", message.creatorId, message);
  await publishBestEffort(topic("onboarding", message.onboardingId), message);
}

/**
 * The run's events from its start. Subscribes before reading the rows, so nothing falls between
 * the replay and the live messages; live messages wait until the replay is out, and any already
 * replayed (same log row, same status) is dropped.
 */
export function onboardingProgress(onboardingId: string): AsyncIterable<OnboardingMessage> {
  return new Repeater<OnboardingMessage>(async (push, stop) => {
    const seen = new Set<string>();
    const deliver = (message: OnboardingMessage) => {
      const key = message.logId ?? `status:${message.status}`;
      if (seen.has(key)) return;
      seen.add(key);
      push(message);
      if (message.logId === null && FINAL_STATUSES.has(message.status)) stop();
    };
    let held: OnboardingMessage[] | null = [];
    const subscriptionId = await livePubSub().subscribe(
      topic("onboarding", onboardingId),
      (message: OnboardingMessage) => (held ? held.push(message) : deliver(message)),
    );
    try {
      const onboarding = await db.onboarding.findUnique({
        where: { id: onboardingId },
        include: { logs: { orderBy: { createdAt: "asc" }, select: { id: true, status: true } } },
      });
      if (!onboarding) {
        stop(new NotFoundError("Onboarding", onboardingId));
        return;
      }
      const base = { creatorId: onboarding.creatorId, onboardingId };
      // The run and its logs are read by two statements: a log row read after the run row means
      // the run started meanwhile, and RUNNING comes before its first step either way.
      if (onboarding.startedAt || onboarding.logs.length > 0) deliver({ ...base, logId: null, status: "RUNNING" });
      for (const log of onboarding.logs) deliver({ ...base, logId: log.id, status: log.status });
      if (FINAL_STATUSES.has(onboarding.status)) deliver({ ...base, logId: null, status: onboarding.status });
      for (const message of held) deliver(message);
      held = null;
      await stop;
    } finally {
      livePubSub().unsubscribe(subscriptionId);
    }
  });
}
