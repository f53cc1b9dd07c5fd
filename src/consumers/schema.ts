import type { z } from "zod";
import { ChannelEnum } from "../creators/schema.js";
import { db } from "../db/client.js";
import { ValidationError } from "../errors.js";
import type { Prisma } from "../generated/prisma/client.js";
import { ConsentStatus, Stage } from "../generated/prisma/enums.js";
import { builder } from "../graphql/builder.js";
import { mutationErrors } from "../graphql/error-types.js";
import { notFoundWhenRefused, ownRowById } from "../graphql/tenancy.js";
import { email, phone } from "../validation.js";
import { type ConsentResult, creatorOfConsumer, setConsent, unsubscribeConsumer } from "./consent-service.js";

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
  // Readable by the creator, and by an ingest key in the answer to its own ingestion.
  authScopes: (context, ctx) => (ctx.ingestedConsumers.has(context.consumerId) ? true : { creator: context.creatorId }),
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

/** How many conflicts a consumer lists: the newest, which are the ones still worth settling. */
const MAX_IDENTITY_CONFLICTS = 50;

builder.prismaObject("ConsumerIdentityConflict", {
  description:
    "An event named the consumer with a detail that was not stored (another consumer holds it, or a match by email or phone met a different stored value), once per detail and offered value, for a person to settle.",
  authScopes: (conflict) => ({ creator: conflict.creatorId }),
  fields: (t) => ({
    field: t.exposeString("field", {
      description: 'The detail, named as in ConsumerRefInput: "externalId", "email", "phone", "name" or "timezone".',
    }),
    keptValue: t.exposeString("keptValue", {
      nullable: true,
      description: "What the consumer kept when the value was last offered: null when it had none.",
    }),
    offeredValue: t.exposeString("offeredValue", { description: "What the events offered and was not stored." }),
    heldBy: t.relation("heldBy", {
      nullable: true,
      description: "The other consumer that holds the offered email or phone, when that is why it was not stored.",
    }),
    occurrences: t.exposeInt("occurrences", { description: "How many events offered this value." }),
    firstSeenAt: t.expose("firstSeenAt", { type: "DateTime" }),
    lastSeenAt: t.expose("lastSeenAt", { type: "DateTime" }),
  }),
});

export const ConsumerNode = builder.prismaNode("Consumer", {
  id: { field: "id" },
  // Another creator's id loads as missing: null, as an unknown id.
  findUnique: (id, ctx) => ownRowById(id, ctx),
  nullable: true,
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
    identityConflicts: t.relation("identityConflicts", {
      description: `Details events offered that were not stored on this consumer (see the README's "Consumer identity"), the most recently seen first, at most ${MAX_IDENTITY_CONFLICTS}.`,
      query: { orderBy: [{ lastSeenAt: "desc" }, { id: "desc" }], take: MAX_IDENTITY_CONFLICTS },
    }),
  }),
});

const ConsumerOrder = builder.enumType("ConsumerOrder", {
  values: { LAST_SEEN_DESC: {}, LAST_SEEN_ASC: {}, CREATED_DESC: {} } as const,
});

const ConsumerFilter = builder.inputType("ConsumerFilter", {
  fields: (t) => ({
    email: t.string({ description: "The consumer with this email, compared as stored: trimmed and lower-cased." }),
    phone: t.string({
      description:
        'The consumer with this phone, in any international format ("+34 612 345 678"), compared as stored (E.164); ' +
        'or with 00 for the + ("0034 612 345 678"), or digits alone as WhatsApp gives them ("34612345678", a wa_id): ' +
        "the phone with a + before them, or the " +
        "consumer's wa_id (WhatsApp's can differ from the phone's digits).",
    }),
    externalId: t.string({ description: "The consumer with this id in the creator's own systems." }),
    stage: t.field({ type: [StageEnum], description: "Any of these stages." }),
    lastSeenAfter: t.field({ type: "DateTime" }),
    lastSeenBefore: t.field({ type: "DateTime" }),
  }),
});

/** A search value as ingestion stores it; one that could never be stored is a ValidationError. */
function normalised(schema: z.ZodType<string>, value: string, path: string): string {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw ValidationError.fromZod(parsed.error, path);
  return parsed.data;
}

/** A wa_id: the digits of an international number, country code first, no "+" (WhatsApp Cloud API). */
const WA_ID = /^\d{6,15}$/;

/** What a phone search matches: the stored phone, and for bare digits (a wa_id) the stored wa_id too. */
function phoneSearch(value: string): Prisma.ConsumerWhereInput {
  const digits = value.trim();
  // "00" is how most of the world dials out, where the + stands: "0044 7700 900123".
  if (/^00[1-9]/.test(digits)) return { phone: normalised(phone, `+${digits.slice(2)}`, "filter.phone") };
  if (!WA_ID.test(digits)) return { phone: normalised(phone, value, "filter.phone") };
  const asPhone = phone.safeParse(`+${digits}`);
  return { OR: [{ waId: digits }, ...(asPhone.success ? [{ phone: asPhone.data }] : [])] };
}

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
            // Each is unique per creator (an index each): a search by one answers at most one consumer.
            ...(filter.email != null ? { email: normalised(email, filter.email, "filter.email") } : {}),
            ...(filter.phone != null ? phoneSearch(filter.phone) : {}),
            ...(filter.externalId != null ? { externalId: filter.externalId } : {}),
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

const ConsentChangeRef = builder.objectRef<ConsentResult>("ConsentChange").implement({
  description: "A consumer's consents after the change, and the planned actions it cancelled.",
  fields: (t) => ({
    consumer: t.prismaField({
      type: "Consumer",
      resolve: (query, result) => db.consumer.findUniqueOrThrow({ ...query, where: { id: result.consumerId } }),
    }),
    cancelledActions: t.prismaField({
      type: ["Action"],
      resolve: (query, result) =>
        db.action.findMany({ ...query, where: { id: { in: result.cancelledActionIds } }, orderBy: { sendAt: "asc" } }),
    }),
  }),
});

/** Another creator's consumer answers as an unknown one. */
const consumerNotFound = notFoundWhenRefused("Consumer", (args: { consumerId: { id: string } }) => args.consumerId.id);

/** The consumer's creator scope; an unknown id gets past it to answer a NotFoundError. */
async function consumerScopes(consumerId: string) {
  const creatorId = await creatorOfConsumer(consumerId);
  return creatorId ? { creator: creatorId } : { manager: true };
}

builder.mutationField("setConsent", (t) =>
  t.field({
    type: ConsentChangeRef,
    errors: mutationErrors,
    description:
      "Grants or withdraws consent on one channel. A withdrawal cancels the planned actions on that channel at once; a grant brings an unsubscribed consumer back to NEW.",
    args: {
      consumerId: t.arg.globalID({ required: true, for: ConsumerNode }),
      channel: t.arg({ type: ChannelEnum, required: true }),
      granted: t.arg.boolean({ required: true }),
      source: t.arg.string({ description: 'How it was given or withdrawn, e.g. "signup_form". Defaults to "api".' }),
    },
    authScopes: (_root, { consumerId }) => consumerScopes(consumerId.id),
    unauthorizedResolver: consumerNotFound,
    resolve: (_root, { consumerId, channel, granted, source }, ctx) =>
      setConsent({ consumerId: consumerId.id, channel, granted, source }, ctx.viewer),
  }),
);

builder.mutationField("unsubscribeConsumer", (t) =>
  t.field({
    type: ConsentChangeRef,
    errors: mutationErrors,
    description:
      "Withdraws consent on one channel, or on every channel (the consumer becomes UNSUBSCRIBED), and cancels the planned actions there in the same transaction.",
    args: {
      consumerId: t.arg.globalID({ required: true, for: ConsumerNode }),
      channel: t.arg({ type: ChannelEnum, description: "Only this channel; every channel when omitted." }),
    },
    authScopes: (_root, { consumerId }) => consumerScopes(consumerId.id),
    unauthorizedResolver: consumerNotFound,
    resolve: (_root, { consumerId, channel }, ctx) => unsubscribeConsumer(consumerId.id, channel ?? null, ctx.viewer),
  }),
);
