import { ChannelEnum } from "../creators/schema.js";
import type { Prisma } from "../generated/prisma/client.js";
import { ConsentStatus, Stage } from "../generated/prisma/enums.js";
import { builder } from "../graphql/builder.js";

export const StageEnum = builder.enumType(Stage, {
  name: "Stage",
  description: "Where a consumer stands: NEW < INTERESTED < ENGAGED < CONVERTED; LOST and UNSUBSCRIBED aside.",
});
const ConsentStatusEnum = builder.enumType(ConsentStatus, { name: "ConsentStatus" });

builder.prismaObject("ConsumerConsent", {
  fields: (t) => ({
    channel: t.expose("channel", { type: ChannelEnum }),
    status: t.expose("status", { type: ConsentStatusEnum }),
    source: t.exposeString("source", { description: "How it was given or withdrawn." }),
    changedAt: t.expose("changedAt", { type: "DateTime" }),
  }),
});

export const ConsumerContextRef = builder.prismaObject("ConsumerContext", {
  authScopes: (context) => ({ ingest: context.creatorId }),
  description: "The consumer's stage and metrics, updated atomically by every event.",
  fields: (t) => ({
    stage: t.expose("stage", { type: StageEnum }),
    lastSeenAt: t.expose("lastSeenAt", { type: "DateTime", nullable: true }),
    eventCount: t.exposeInt("eventCount"),
    pageViews: t.exposeInt("pageViews"),
    serviceClicks: t.exposeInt("serviceClicks"),
    emailsSent: t.exposeInt("emailsSent"),
    emailsOpened: t.exposeInt("emailsOpened"),
    whatsappSent: t.exposeInt("whatsappSent"),
    whatsappReplied: t.exposeInt("whatsappReplied"),
    objections: t.exposeInt("objections"),
    enrolled: t.exposeBoolean("enrolled"),
    counters: t.expose("counters", {
      type: "JSON",
      description: 'Counts the typed fields do not cover: "service:<name>" views and custom event types.',
    }),
    attributes: t.expose("attributes", { type: "JSON" }),
    lastMessageAt: t.expose("lastMessageAt", { type: "DateTime", nullable: true }),
    updatedAt: t.expose("updatedAt", { type: "DateTime" }),
    consumer: t.relation("consumer"),
  }),
});

export const ConsumerNode = builder.prismaNode("Consumer", {
  id: { field: "id" },
  authScopes: (consumer) => ({ creator: consumer.creatorId }),
  fields: (t) => ({
    externalId: t.exposeString("externalId", { nullable: true, description: "The creator's own id for this person." }),
    email: t.exposeString("email", { nullable: true }),
    phone: t.exposeString("phone", { nullable: true }),
    name: t.exposeString("name", { nullable: true }),
    timezone: t.exposeString("timezone", { nullable: true }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    context: t.relation("context", { nullable: true }),
    consents: t.relation("consents", { query: { orderBy: { channel: "asc" } } }),
    creator: t.relation("creator"),
  }),
});

const ConsumerOrder = builder.enumType("ConsumerOrder", {
  values: { LAST_SEEN_DESC: {}, LAST_SEEN_ASC: {}, CREATED_DESC: {} } as const,
});

const ConsumerFilter = builder.inputType("ConsumerFilter", {
  fields: (t) => ({
    stage: t.field({ type: [StageEnum], description: "Any of these stages." }),
    lastSeenAfter: t.field({ type: "DateTime" }),
    lastSeenBefore: t.field({ type: "DateTime" }),
  }),
});

const CONSUMER_ORDER: Record<string, Prisma.ConsumerOrderByWithRelationInput[]> = {
  LAST_SEEN_DESC: [{ context: { lastSeenAt: { sort: "desc", nulls: "last" } } }, { id: "desc" }],
  LAST_SEEN_ASC: [{ context: { lastSeenAt: { sort: "asc", nulls: "last" } } }, { id: "asc" }],
  CREATED_DESC: [{ createdAt: "desc" }, { id: "desc" }],
};

builder.prismaObjectFields("Creator", (t) => ({
  consumers: t.relatedConnection("consumers", {
    cursor: "id",
    totalCount: true,
    args: {
      filter: t.arg({ type: ConsumerFilter }),
      orderBy: t.arg({ type: ConsumerOrder, defaultValue: "LAST_SEEN_DESC" }),
    },
    query: ({ filter, orderBy }) => ({
      where: filter
        ? {
            context: {
              ...(filter.stage ? { stage: { in: filter.stage } } : {}),
              ...(filter.lastSeenAfter || filter.lastSeenBefore
                ? { lastSeenAt: { gte: filter.lastSeenAfter ?? undefined, lt: filter.lastSeenBefore ?? undefined } }
                : {}),
            },
          }
        : {},
      orderBy: CONSUMER_ORDER[orderBy ?? "LAST_SEEN_DESC"],
    }),
  }),
}));
