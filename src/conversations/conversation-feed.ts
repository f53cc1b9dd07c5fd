import { publishFeed } from "../pubsub.js";
import type { ConversationChange } from "./conversation-store.js";

/**
 * Publishes conversation changes on the live feed (conversationUpdates): a consumer's new
 * message, a change of holder, a person's message. Call it after the change committed.
 */
export async function publishConversationChanges(changes: ConversationChange[]): Promise<void> {
  await Promise.all(
    changes.map((c) =>
      publishFeed("conversations", c.creatorId, { creatorId: c.creatorId, conversationId: c.id, holder: c.holder }),
    ),
  );
}
