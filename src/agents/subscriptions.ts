import { CreatorNode } from "../creators/schema.js";
import { db } from "../db/client.js";
import type { Prisma } from "../generated/prisma/client.js";
import { builder } from "../graphql/builder.js";
import { feedScopes, subscribeRowFeed } from "../graphql/live-feed.js";
import type { DecisionMessage, InvocationMessage } from "../pubsub.js";

/** What a subscription resolver reads a row with: the select or include of what the client asked for. */
type AgentInvocationQuery = Pick<Prisma.AgentInvocationFindManyArgs, "select" | "include">;

builder.subscriptionField("agentDecisions", (t) =>
  t.prismaField({
    type: "AgentInvocation",
    nullable: true,
    description: "Each decision an agent makes (acted or not, and why). Without creatorId: every creator (admin keys).",
    args: { creatorId: t.arg.globalID({ for: CreatorNode }) },
    authScopes: (_root, { creatorId }) => feedScopes(creatorId),
    subscribe: (_root, { creatorId }, context) =>
      subscribeRowFeed(
        "decisions",
        creatorId?.id ?? null,
        context,
        (message: DecisionMessage) => message.invocationId,
        (ids, query: AgentInvocationQuery) => db.agentInvocation.findMany({ ...query, where: { id: { in: ids } } }),
      ),
    resolve: (query, item) => item.read(query),
  }),
);

builder.subscriptionField("invocationUpdates", (t) =>
  t.prismaField({
    type: "AgentInvocation",
    nullable: true,
    description:
      "Every status change of an agent run (queued, running, completed, skipped, failed). `status` is the one it changed " +
      "to, in order, however soon the next change came; the other fields are read when the update goes out. Null for a " +
      "run deleted since (its creator was).",
    args: { creatorId: t.arg.globalID({ for: CreatorNode }) },
    authScopes: (_root, { creatorId }) => feedScopes(creatorId),
    subscribe: (_root, { creatorId }, context) =>
      subscribeRowFeed(
        "invocations",
        creatorId?.id ?? null,
        context,
        (message: InvocationMessage) => message.invocationId,
        (ids, query: AgentInvocationQuery) => db.agentInvocation.findMany({ ...query, where: { id: { in: ids } } }),
      ),
    resolve: async (query, item) => {
      const invocation = await item.read(query);
      return invocation && { ...invocation, status: item.message.status };
    },
  }),
);
