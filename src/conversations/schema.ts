import { ConsumerNode } from "../consumers/schema.js";
import { ChannelEnum, CreatorNode } from "../creators/schema.js";
import { db } from "../db/client.js";
import { ActionNode } from "../delivery/schema-types.js";
import type { Prisma } from "../generated/prisma/client.js";
import { ConversationHolder, MessageDirection } from "../generated/prisma/enums.js";
import { builder } from "../graphql/builder.js";
import { mutationErrors } from "../graphql/error-types.js";
import { feedScopes, subscribeRowFeed } from "../graphql/live-feed.js";
import { notFoundWhenRefused, ownRowById } from "../graphql/tenancy.js";
import type { ConversationFeedMessage } from "../pubsub.js";
import {
  CUSTOMER_SERVICE_WINDOW_MS,
  changeHolder,
  creatorOfConversation,
  sendMessage,
} from "./conversation-service.js";
import { INTENTS, type IntentKind } from "./understanding/intent.js";

/** What a subscription resolver reads a row with: the select or include of what the client asked for. */
type ConversationQuery = Pick<Prisma.ConversationFindManyArgs, "select" | "include">;

const ConversationHolderEnum = builder.enumType(ConversationHolder, {
  name: "ConversationHolder",
  description:
    "Who answers: AGENT (the creator's sales agent), PERSON (handed off: the agent plans nothing in it until it is given back), CLOSED (the agent plans nothing in it; the consumer's next message reopens it to the agent).",
});
const MessageDirectionEnum = builder.enumType(MessageDirection, { name: "MessageDirection" });

/** What the agent does with each intent (README, "What the agent does with a consumer's message"). */
const INTENT_RULES: Record<IntentKind, string> = {
  opt_out:
    "No more messages, in plain words, in any of six languages: consent withdrawn when the message arrives (on the channel it names, or all); nothing sent.",
  complaint: "A complaint or anger: selling stops, one short apology, and the conversation is handed to the creator.",
  support: "Support, billing, a refund or an invoice: handed to the creator, with one notice to the consumer.",
  purchase: "Wants to buy or sign up: the service's sign-up link at once; asked again, the creator takes over.",
  objection:
    "A reason not to buy (price, time, fit, trust, later): the profile's own answer once, then another service or the creator.",
  question:
    "About a service (price, duration, schedule, what is included): answered from the profile's facts, never twice; what the profile does not say goes to the creator.",
  unknown: "Anything else (a voice note, a message it cannot place): handed to the creator, never a canned pitch.",
  thanks: "Thanks: one short answer per conversation at most.",
  small_talk: "A greeting, an acknowledgement or a polite no: nothing sent.",
};

const ConsumerIntentEnum = builder.enumType("ConsumerIntent", {
  description:
    "What the agent understood a consumer's message (or a burst of them) as, and so what it did. Read by the configured model, or without one by the deterministic reader.",
  values: Object.fromEntries(
    INTENTS.map((intent) => [intent.toUpperCase(), { value: intent, description: INTENT_RULES[intent] }]),
  ) as Record<Uppercase<IntentKind>, { value: IntentKind; description: string }>,
});

builder.prismaObject("ConversationMessage", {
  description:
    "One message of a conversation: the consumer's (INBOUND, from an event) or ours (OUTBOUND, a sent action).",
  fields: (t) => ({
    direction: t.expose("direction", { type: MessageDirectionEnum }),
    text: t.exposeString("text", { nullable: true }),
    at: t.expose("at", { type: "DateTime" }),
    intent: t.field({
      type: ConsumerIntentEnum,
      nullable: true,
      description: "The consumer's message: what the agent understood it as (null until the agent read it).",
      select: { intent: true },
      resolve: (m) => ((INTENTS as readonly string[]).includes(m.intent ?? "") ? (m.intent as IntentKind) : null),
    }),
    topic: t.exposeString("topic", {
      nullable: true,
      description:
        'The agent\'s message: what it said ("answer:price:<service>", "objection:price", "link:<service>", "offer:<service>", "hand_off", ...), which it never says twice in a conversation. Null for a person\'s message.',
    }),
    action: t.field({
      type: ActionNode,
      nullable: true,
      description: "Ours: the action that sent it, with its status (FAILED when WhatsApp reported it undeliverable).",
      select: { actionId: true },
      resolve: (m, _args, ctx) => (m.actionId ? ctx.reads.db.action.findUnique({ where: { id: m.actionId } }) : null),
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
      "A person's message in the conversation, on its channel: planned now, ahead of the agent's, and sent through the same consent, quiet-hours and frequency rules, its cap counting people's messages alone (the Action says what became of it). Writing takes the conversation from the agent. Audited.",
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
    subscribe: (_root, { creatorId }, context) =>
      subscribeRowFeed(
        "conversations",
        creatorId?.id ?? null,
        context,
        (message: ConversationFeedMessage) => message.conversationId,
        (ids, query: ConversationQuery) => db.conversation.findMany({ ...query, where: { id: { in: ids } } }),
      ),
    resolve: (query, item) => item.read(query),
  }),
);
