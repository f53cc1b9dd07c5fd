import { CreatorNode } from "../creators/schema.js";
import { db } from "../db/client.js";
import type { Prisma } from "../generated/prisma/client.js";
import { builder } from "../graphql/builder.js";
import { feedScopes, subscribeRowFeed } from "../graphql/live-feed.js";
import type { ActionMessage } from "../pubsub.js";

/** What a subscription resolver reads a row with: the select or include of what the client asked for. */
type ActionQuery = Pick<Prisma.ActionFindManyArgs, "select" | "include">;

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
    subscribe: (_root, { creatorId }, context) =>
      subscribeRowFeed(
        "actions",
        creatorId?.id ?? null,
        context,
        (message: ActionMessage) => message.actionId,
        (ids, query: ActionQuery) => db.action.findMany({ ...query, where: { id: { in: ids } } }),
      ),
    resolve: async (query, item) => {
      const action = await item.read(query);
      return action && { ...action, status: item.message.status };
    },
  }),
);
