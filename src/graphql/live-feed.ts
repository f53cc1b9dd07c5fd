import { livePubSub, platformPattern, topic } from "../pubsub.js";

type Feed = Parameters<typeof topic>[0];

/** The scope a feed subscription needs: a creator's own feed, or the platform feed for admins. */
export function feedScopes(creatorId: { id: string } | null | undefined) {
  return creatorId ? { creator: creatorId.id } : { admin: true };
}

/**
 * Subscribes to a creator's feed, or without a scope to every creator's (the platform feed), over
 * Redis pub/sub, so any API instance hears what any worker published.
 * It resolves once Redis has acknowledged the subscription: a client that sees the stream open
 * misses nothing published after that.
 */
export async function subscribeFeed<T>(feed: Feed, scope: string | null): Promise<AsyncIterable<T>> {
  const pubsub = livePubSub();
  const pending: T[] = [];
  let wake: (() => void) | null = null;
  const onMessage = (message: T) => {
    pending.push(message);
    wake?.();
  };
  const subscriptionId = scope
    ? await pubsub.subscribe(topic(feed, scope), onMessage)
    : await pubsub.subscribe(platformPattern(feed), onMessage, { pattern: true });
  return (async function* () {
    try {
      for (;;) {
        while (pending.length > 0) yield pending.shift() as T;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = null;
      }
    } finally {
      pubsub.unsubscribe(subscriptionId);
    }
  })();
}
