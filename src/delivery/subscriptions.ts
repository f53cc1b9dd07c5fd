import { CreatorNode } from "../creators/schema.js";
import { db } from "../db/client.js";
import { builder } from "../graphql/builder.js";
import { feedScopes, subscribeFeed } from "../graphql/live-feed.js";
import type { ActionMessage } from "../pubsub.js";

builder.subscriptionField("actionUpdates", (t) =>
  t.prismaField({
    type: "Action",
    nullable: true,
    description:
      "Every status change of an action: planned, sending, sent, failed, cancelled, skipped or deferred (with its reason). " +
      "`status` is the one it changed to, in order, however soon the next change came; the other fields are read when the " +
      "update goes out. Null for an action deleted since (its creator was).",
    args: { creatorId: t.arg.globalID({ for: CreatorNode }) },
    authScopes: (_root, { creatorId }) => feedScopes(creatorId),
    subscribe: (_root, { creatorId }) => subscribeFeed<ActionMessage>("actions", creatorId?.id ?? null),
    resolve: async (query, message: ActionMessage) => {
      const action = await db.action.findUnique({ ...query, where: { id: message.actionId } });
      return action && { ...action, status: message.status };
    },
  }),
);
