import { ChannelEnum } from "../creators/schema.js";
import { ActionStatus } from "../generated/prisma/enums.js";
import { builder } from "../graphql/builder.js";
import { ownRowById } from "../graphql/tenancy.js";

export const ActionStatusEnum = builder.enumType(ActionStatus, {
  name: "ActionStatus",
  description: "PLANNED -> SENDING -> SENT or FAILED; CANCELLED and SKIPPED carry their reason in statusReason.",
});

export const ActionNode = builder.prismaNode("Action", {
  id: { field: "id" },
  // Another creator's id loads as missing: null, as an unknown id.
  findUnique: (id, ctx) => ownRowById(id, ctx),
  nullable: true,
  authScopes: (action) => ({ creator: action.creatorId }),
  description:
    "A message an agent planned, or a person wrote (sendMessage): sent when due, once, if the consumer's consent and the send rules allow.",
  fields: (t) => ({
    channel: t.expose("channel", { type: ChannelEnum }),
    payload: t.expose("payload", { type: "JSON", description: "to, subject, message..." }),
    sendAt: t.expose("sendAt", { type: "DateTime" }),
    priority: t.exposeFloat("priority", { description: "Among due actions, higher goes first." }),
    status: t.expose("status", { type: ActionStatusEnum }),
    statusReason: t.exposeString("statusReason", { nullable: true }),
    attempts: t.exposeInt("attempts"),
    providerResponse: t.expose("providerResponse", { type: "JSON", nullable: true }),
    providerMessageId: t.exposeString("providerMessageId", { nullable: true }),
    sentAt: t.expose("sentAt", { type: "DateTime", nullable: true }),
    latenessMs: t.exposeInt("latenessMs", { nullable: true, description: "How late the send was against sendAt." }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    updatedAt: t.expose("updatedAt", { type: "DateTime" }),
    invocation: t.relation("invocation", {
      nullable: true,
      description:
        "The agent run that planned it; null for a message a person sent (sendMessage: sentBy is set), and for an agent's message whose run was dropped by event retention.",
    }),
    sentBy: t.exposeString("sentBy", { nullable: true, description: "Who wrote a message a person sent." }),
    consumer: t.relation("consumer"),
  }),
});
