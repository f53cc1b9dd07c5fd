import { livePubSub, topic } from "../pubsub.js";
import type { RequestContext } from "./context.js";

type Feed = Parameters<typeof topic>[0];

/** The scope a feed subscription needs: a creator's own feed, or the platform feed for admins. */
export function feedScopes(creatorId: { id: string } | null | undefined) {
  return creatorId ? { creator: creatorId.id } : { admin: true };
}

/** Subscribes to one feed over Redis pub/sub, so any API instance hears what any worker published. */
export function subscribeFeed<T>(feed: Feed, creatorId: { id: string } | null | undefined, _ctx: RequestContext) {
  return livePubSub().asyncIterableIterator([topic(feed, creatorId?.id ?? null)]) as AsyncIterable<T>;
}
