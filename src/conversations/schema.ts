import { ConsumerNode } from "../consumers/schema.js";
import { ChannelEnum, CreatorNode } from "../creators/schema.js";
import { db } from "../db/client.js";
import { ActionNode } from "../delivery/schema-types.js";
import { ConversationHolder, MessageDirection } from "../generated/prisma/enums.js";
import { builder } from "../graphql/builder.js";
import { mutationErrors } from "../graphql/error-types.js";
import { feedScopes, subscribeFeed } from "../graphql/live-feed.js";
import { notFoundWhenRefused, ownRowById } from "../graphql/tenancy.js";
import type { ConversationFeedMessage } from "../pubsub.js";
import {
  CUSTOMER_SERVICE_WINDOW_MS,
  changeHolder,
  creatorOfConversation,
  sendMessage,
} from "./conversation-service.js";

const ConversationHolderEnum = builder.enumType(ConversationHolder, {
  name: "ConversationHolder",
  description:
    "Who answers: AGENT (the creator's sales agent), PERSON (handed off: the agent plans nothing in it until it is given back), CLOSED (the agent plans nothing in it; the consumer's next message reopens it to the agent).",
});
const MessageDirectionEnum = builder.enumType(MessageDirection, { name: "MessageDirection" });

builder.prismaObject("ConversationMessage", {
  description:
    "One message of a conversation: the consumer's (INBOUND, from an event) or ours (OUTBOUND, a sent action).",
  fields: (t) => ({
    direction: t.expose("direction", { type: MessageDirectionEnum }),
    text: t.exposeString("text", { nullable: true }),
    at: t.expose("at", { type: "DateTime" }),
    action: t.field({
      type: ActionNode,
      nullable: true,
      description: "Ours: the action that sent it, with its status (FAILED when WhatsApp reported it undeliverable).",
      select: { actionId: true },
      resolve: (m) => (m.actionId ? db.action.findUnique({ where: { id: m.actionId } }) : null),
    }),
  }),
});

export const ConversationNode = builder.prismaNode("Conversation", {
  id: { field: "id" },
  // Another creator's id loads as missing: null, as an unknown id.
  findUnique: (id, ctx) => ownRowById(id, ctx),
  nullable: true,
  authScopes: (conversation) => ({ creator: conversation.creatorId }),
  description: "The exchange between a creator and a consumer on one channel.",
  fields: (t) => ({
    channel: t.expose("channel", { type: ChannelEnum }),
    holder: t.expose("holder", { type: ConversationHolderEnum }),
    holderReason: t.exposeString("holderReason", { nullable: true, description: "Why it was handed off or closed." }),
    lastInboundAt: t.expose("lastInboundAt", { type: "DateTime", nullable: true }),
    lastOutboundAt: t.expose("lastOutboundAt", { type: "DateTime", nullable: true }),
    customerServiceWindowEndsAt: t.field({
      type: "DateTime",
      nullable: true,
      description:
        "WhatsApp only: until when a free-form message may be sent, 24 hours after the consumer's last message (WhatsApp Cloud API's customer-service window); null when it is not open or not WhatsApp.",
      select: { channel: true, lastInboundAt: true },
      resolve: (c) => {
        if (c.channel !== "WHATSAPP" || !c.lastInboundAt) return null;
        const ends = new Date(c.lastInboundAt.getTime() + CUSTOMER_SERVICE_WINDOW_MS);
        return ends > new Date() ? ends : null;
      },
    }),
    updatedAt: t.expose("updatedAt", { type: "DateTime" }),
    consumer: t.relation("consumer"),
    messages: t.relatedConnection("messages", {
      cursor: "id",
      totalCount: true,
      description: "Its messages, oldest first.",
      query: () => ({ orderBy: [{ at: "asc" }, { id: "asc" }] }),
    }),
  }),
});

const ConversationFilter = builder.inputType("ConversationFilter", {
  fields: (t) => ({
    holder: t.field({ type: [ConversationHolderEnum], description: "Any of these holders." }),
    channel: t.field({ type: [ChannelEnum] }),
    consumerId: t.globalID({ for: ConsumerNode }),
  }),
});

builder.prismaObjectFields("Creator", (t) => ({
  conversations: t.relatedConnection("conversations", {
    cursor: "id",
    totalCount: true,
    description: "Conversations, most recently active first; `holder: [PERSON]` lists those waiting for a person.",
    args: { filter: t.arg({ type: ConversationFilter }) },
    query: ({ filter }) => ({
      where: {
        ...(filter?.holder ? { holder: { in: filter.holder } } : {}),
        ...(filter?.channel ? { channel: { in: filter.channel } } : {}),
        ...(filter?.consumerId ? { consumerId: filter.consumerId.id } : {}),
      },
      orderBy: [{ updatedAt: "desc" }, { id: "desc" }],
    }),
  }),
}));

builder.prismaObjectFields("Consumer", (t) => ({
  conversations: t.relation("conversations", {
    description: "The consumer's conversations, one per channel.",
    query: { orderBy: { channel: "asc" } },
  }),
}));

function holderMutation(name: string, holder: ConversationHolder, description: string, withReason: boolean) {
  builder.mutationField(name, (t) =>
    t.field({
      type: ConversationNode,
      errors: mutationErrors,
      description,
      args: {
        id: t.arg.globalID({ required: true, for: ConversationNode }),
        ...(withReason ? { reason: t.arg.string({ description: "Why, for the people who read it." }) } : {}),
      },
      authScopes: async (_root, { id }) => {
        const creatorId = await creatorOfConversation(id.id);
        // An unknown id gets past the scope check to answer a NotFoundError.
        return creatorId ? { creator: creatorId } : { manager: true };
      },
      unauthorizedResolver: notFoundWhenRefused("Conversation", (args: { id: { id: string } }) => args.id.id),
      resolve: (_root, args, ctx) => {
        const given = (args as { reason?: string | null }).reason?.trim() ?? "";
        // Cut on a character boundary: half an emoji is not text PostgreSQL stores.
        const reason = Array.from(given).slice(0, 500).join("") || null;
        return changeHolder(args.id.id, holder, reason, ctx.viewer);
      },
    }),
  );
}

holderMutation(
  "handOffConversation",
  "PERSON",
  "Hands the conversation to a person: the agent's planned messages on its channel are cancelled and it plans nothing more in it until returnConversationToAgent. Audited.",
  true,
);
holderMutation(
  "returnConversationToAgent",
  "AGENT",
  "Gives a handed-off or closed conversation back to the agent. Audited.",
  false,
);
holderMutation(
  "closeConversation",
  "CLOSED",
  "Closes the conversation: the agent's planned messages on its channel are cancelled and it plans nothing in it; the consumer's next message reopens it to the agent. Audited.",
  true,
);

builder.mutationField("sendMessage", (t) =>
  t.field({
    type: ActionNode,
    errors: mutationErrors,
    description:
      "A person's message in the conversation, on its channel: planned now, ahead of the agent's, and sent through the same consent, quiet-hours and frequency rules (the Action says what became of it). Writing takes the conversation from the agent. Audited.",
    args: {
      conversationId: t.arg.globalID({ required: true, for: ConversationNode }),
      text: t.arg.string({ required: true, description: "1 to 4,096 characters." }),
      subject: t.arg.string({ description: 'Email only; by default "A message from <creator>".' }),
    },
    authScopes: async (_root, { conversationId }) => {
      const creatorId = await creatorOfConversation(conversationId.id);
      return creatorId ? { creator: creatorId } : { manager: true };
    },
    unauthorizedResolver: notFoundWhenRefused(
      "Conversation",
      (args: { conversationId: { id: string } }) => args.conversationId.id,
    ),
    resolve: (_root, { conversationId, text, subject }, ctx) =>
      sendMessage(conversationId.id, text, subject ?? null, ctx.viewer),
  }),
);

builder.subscriptionField("conversationUpdates", (t) =>
  t.prismaField({
    type: "Conversation",
    nullable: true,
    description:
      "A conversation as it changes: a new message from the consumer, a change of holder (handed off, returned, closed), a person's message. A creator's feed, or with no creatorId the platform's (admin keys). Handed-off conversations are those with holder PERSON.",
    args: { creatorId: t.arg.globalID({ for: CreatorNode }) },
    authScopes: (_root, { creatorId }) => feedScopes(creatorId),
    subscribe: (_root, { creatorId }) => subscribeFeed<ConversationFeedMessage>("conversations", creatorId?.id ?? null),
    resolve: (query, message: ConversationFeedMessage) =>
      db.conversation.findUnique({ ...query, where: { id: message.conversationId } }),
  }),
);
