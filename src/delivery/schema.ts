import { ChannelEnum } from "../creators/schema.js";
import { builder } from "../graphql/builder.js";
import { mutationErrors } from "../graphql/error-types.js";
import { notFoundWhenRefused } from "../graphql/tenancy.js";
import { cancelAction, creatorOfAction } from "./action-service.js";
import { ActionNode, ActionStatusEnum } from "./schema-types.js";

const ActionFilter = builder.inputType("ActionFilter", {
  fields: (t) => ({
    status: t.field({ type: [ActionStatusEnum] }),
    channel: t.field({ type: [ChannelEnum] }),
    dueAfter: t.field({ type: "DateTime", description: "sendAt at or after." }),
    dueBefore: t.field({ type: "DateTime", description: "sendAt before." }),
    consumerId: t.globalID(),
  }),
});

builder.prismaObjectFields("Creator", (t) => ({
  actions: t.relatedConnection("actions", {
    cursor: "id",
    totalCount: true,
    description: "Planned and past actions, by send time (latest first).",
    args: { filter: t.arg({ type: ActionFilter }) },
    query: ({ filter }) => ({
      where: {
        ...(filter?.status ? { status: { in: filter.status } } : {}),
        ...(filter?.channel ? { channel: { in: filter.channel } } : {}),
        ...(filter?.consumerId ? { consumerId: filter.consumerId.id } : {}),
        ...(filter?.dueAfter || filter?.dueBefore
          ? { sendAt: { gte: filter.dueAfter ?? undefined, lt: filter.dueBefore ?? undefined } }
          : {}),
      },
      orderBy: [{ sendAt: "desc" }, { id: "desc" }],
    }),
  }),
}));

builder.mutationField("cancelAction", (t) =>
  t.field({
    type: ActionNode,
    errors: mutationErrors,
    description: "Cancels a planned action. One already being sent or settled answers a ConflictError.",
    args: { id: t.arg.globalID({ required: true, for: ActionNode }) },
    authScopes: async (_root, { id }) => {
      const creatorId = await creatorOfAction(id.id);
      // An unknown id gets past the scope check to answer a NotFoundError.
      return creatorId ? { creator: creatorId } : { manager: true };
    },
    unauthorizedResolver: notFoundWhenRefused("Action", (args: { id: { id: string } }) => args.id.id),
    resolve: (_root, { id }, ctx) => cancelAction(id.id, ctx.viewer),
  }),
);
