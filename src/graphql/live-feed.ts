import { initContextCache } from "@pothos/core";
import { livePubSub, platformPattern, topic } from "../pubsub.js";

type Feed = Parameters<typeof topic>[0];

/** Messages held for a subscriber that reads more slowly than the feed publishes; older ones are dropped past this. */
const MAX_PENDING = 1_000;

/** The scope a feed subscription needs: a creator's own feed, or the platform feed for admins. */
export function feedScopes(creatorId: { id: string } | null | undefined) {
  return creatorId ? { creator: creatorId.id } : { admin: true };
}

/**
 * One subscriber's messages as they arrive: `take` answers every message waiting (at least one:
 * it waits for the next when none is), or null once ended. Subscribes over Redis pub/sub, so any
 * API instance hears what any worker published; it resolves once Redis has acknowledged the
 * subscription, so a client that sees the stream open misses nothing published after that.
 * `end` releases the Redis listener at once, not at the next message.
 */
async function openFeed<T>(feed: Feed, scope: string | null) {
  const pubsub = livePubSub();
  let pending: T[] = [];
  let waiting: ((messages: T[] | null) => void) | null = null;
  let ended = false;
  const onMessage = (message: T) => {
    if (ended) return;
    if (waiting) {
      const reader = waiting;
      waiting = null;
      reader([message]);
      return;
    }
    pending.push(message);
    if (pending.length > MAX_PENDING) pending.shift();
  };
  const subscriptionId = scope
    ? await pubsub.subscribe(topic(feed, scope), onMessage)
    : await pubsub.subscribe(platformPattern(feed), onMessage, { pattern: true });
  return {
    take(): Promise<T[] | null> {
      if (pending.length > 0) {
        const messages = pending;
        pending = [];
        return Promise.resolve(messages);
      }
      if (ended) return Promise.resolve(null);
      return new Promise((resolve) => {
        waiting = resolve;
      });
    },
    end(): void {
      if (ended) return;
      ended = true;
      pending = [];
      pubsub.unsubscribe(subscriptionId);
      waiting?.(null);
      waiting = null;
    },
  };
}

/**
 * A message of a row feed. `read` answers its row, read with the subscription resolver's Prisma
 * query (select/include of what the client selected): null for a row deleted since. The first
 * read of a burst reads the rows of every message taken with it (one query per selection), the
 * others find theirs in it; a failed read (PostgreSQL unreachable) fails each of those messages
 * alone.
 */
export type FeedItem<M, R, Q> = { message: M; read: (query: Q) => Promise<R | null> };

/**
 * Subscribes to a feed whose messages each name a row the subscription answers with (a
 * creator's feed, or without a scope every creator's: the platform feed). The messages waiting
 * when the client is ready for more are read together: `load` gets their distinct row ids and the
 * resolver's query, and answers the rows it finds (in any order). graphql-js resolves a
 * subscription's messages one after another, so reading each alone cost one database round trip,
 * and one wait for a pooled connection, per message: a subscriber fell behind whenever ingestion
 * kept the pool busy. Now a burst costs one query.
 *
 * Items come out in the order their messages arrived. Ending the stream (the client went away,
 * or the server ends it) releases the Redis listener at once.
 *
 * `context` is the subscription's GraphQL context, which graphql-js passes to every message's
 * execution. Pothos keeps its per-request caches on it (scope-auth caches each parent object's
 * authorization, so every row a subscription ever answered stayed reachable: the API ran out of
 * its heap within minutes of a steady feed), so each message gets fresh ones (initContextCache,
 * @pothos/core), as a request would.
 */
export async function subscribeRowFeed<M, R extends { id: string }, Q>(
  feed: Feed,
  scope: string | null,
  context: object,
  rowId: (message: M) => string,
  load: (ids: string[], query: Q) => Promise<R[]>,
): Promise<AsyncIterableIterator<FeedItem<M, R, Q>>> {
  const source = await openFeed<M>(feed, scope);
  let ready: FeedItem<M, R, Q>[] = [];
  const iterator: AsyncIterableIterator<FeedItem<M, R, Q>> = {
    [Symbol.asyncIterator]: () => iterator,
    async next() {
      if (ready.length === 0) {
        const messages = await source.take();
        if (!messages) return { value: undefined, done: true };
        // By selection: the messages of one subscription all share one, read once.
        const reads = new Map<string, Promise<Map<string, R>>>();
        const readAll = (query: Q) => {
          const selection = JSON.stringify(query);
          let rows = reads.get(selection);
          if (!rows) {
            rows = load([...new Set(messages.map(rowId))], query).then((found) => new Map(found.map((r) => [r.id, r])));
            reads.set(selection, rows);
          }
          return rows;
        };
        ready = messages.map((message) => ({
          message,
          read: async (query) => (await readAll(query)).get(rowId(message)) ?? null,
        }));
      }
      Object.assign(context, initContextCache());
      return { value: ready.shift() as FeedItem<M, R, Q>, done: false };
    },
    return() {
      source.end();
      ready = [];
      return Promise.resolve({ value: undefined, done: true });
    },
    throw(error: unknown) {
      source.end();
      ready = [];
      return Promise.reject(error);
    },
  };
  return iterator;
}
