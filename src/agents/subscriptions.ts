import { CreatorNode } from "../creators/schema.js";
import { db } from "../db/client.js";
import { builder } from "../graphql/builder.js";
import { feedScopes, subscribeFeed } from "../graphql/live-feed.js";
import type { DecisionMessage, InvocationMessage } from "../pubsub.js";

builder.subscriptionField("agentDecisions", (t) =>
  t.prismaField({
    type: "AgentInvocation",
    nullable: true,
    description: "Each decision an agent makes (acted or not, and why). Without creatorId: every creator (admin keys).",
    args: { creatorId: t.arg.globalID({ for: CreatorNode }) },
    authScopes: (_root, { creatorId }) => feedScopes(creatorId),
    subscribe: (_root, { creatorId }) => subscribeFeed<DecisionMessage>("decisions", creatorId?.id ?? null),
    resolve: (query, message: DecisionMessage) =>
      db.agentInvocation.findUnique({ ...query, where: { id: message.invocationId } }),
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
    subscribe: (_root, { creatorId }) => subscribeFeed<InvocationMessage>("invocations", creatorId?.id ?? null),
    resolve: async (query, message: InvocationMessage) => {
      const invocation = await db.agentInvocation.findUnique({ ...query, where: { id: message.invocationId } });
      return invocation && { ...invocation, status: message.status };
    },
  }),
);
