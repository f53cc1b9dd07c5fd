import { livePubSub, platformPattern, topic } from "../pubsub.js";

type Feed = Parameters<typeof topic>[0];

/** Messages held for a subscriber that reads more slowly than the feed publishes; older ones are dropped past this. */
const MAX_PENDING = 1_000;

/** The scope a feed subscription needs: a creator's own feed, or the platform feed for admins. */
export function feedScopes(creatorId: { id: string } | null | undefined) {
  return creatorId ? { creator: creatorId.id } : { admin: true };
}

/**
 * Subscribes to a creator's feed, or without a scope to every creator's (the platform feed), over
 * Redis pub/sub, so any API instance hears what any worker published.
 * It resolves once Redis has acknowledged the subscription: a client that sees the stream open
 * misses nothing published after that. Ending the stream (the client went away, or the server
 * ends it) releases the Redis listener at once, not at the next message.
 */
export async function subscribeFeed<T>(feed: Feed, scope: string | null): Promise<AsyncIterableIterator<T>> {
  const pubsub = livePubSub();
  const pending: T[] = [];
  let waiting: ((result: IteratorResult<T>) => void) | null = null;
  let ended = false;
  const onMessage = (message: T) => {
    if (ended) return;
    if (waiting) {
      const reader = waiting;
      waiting = null;
      reader({ value: message, done: false });
      return;
    }
    pending.push(message);
    if (pending.length > MAX_PENDING) pending.shift();
  };
  const subscriptionId = scope
    ? await pubsub.subscribe(topic(feed, scope), onMessage)
    : await pubsub.subscribe(platformPattern(feed), onMessage, { pattern: true });
  const end = () => {
    if (ended) return;
    ended = true;
    pending.length = 0;
    pubsub.unsubscribe(subscriptionId);
    waiting?.({ value: undefined, done: true });
    waiting = null;
  };
  const iterator: AsyncIterableIterator<T> = {
    [Symbol.asyncIterator]: () => iterator,
    next() {
      if (pending.length > 0) return Promise.resolve({ value: pending.shift() as T, done: false });
      if (ended) return Promise.resolve({ value: undefined, done: true });
      return new Promise((resolve) => {
        waiting = resolve;
      });
    },
    return() {
      end();
      return Promise.resolve({ value: undefined, done: true });
    },
    throw(error: unknown) {
      end();
      return Promise.reject(error);
    },
  };
  return iterator;
}
