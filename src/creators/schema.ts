import { Channel, CreatorStatus, QuietHoursPolicy } from "../generated/prisma/enums.js";
import { builder } from "../graphql/builder.js";
import { mutationErrors } from "../graphql/error-types.js";
import { given } from "../graphql/input.js";
import { ownCreatorById, ownCreatorFilter } from "../graphql/tenancy.js";
import { formatTimeOfDay } from "../validation.js";
import { createCreator, type FrequencyCap, updateCreator } from "./creator-service.js";
import { frequencyCapFor } from "./frequency-caps.js";

export const ChannelEnum = builder.enumType(Channel, { name: "Channel" });
const CreatorStatusEnum = builder.enumType(CreatorStatus, { name: "CreatorStatus" });
const QuietHoursPolicyEnum = builder.enumType(QuietHoursPolicy, {
  name: "QuietHoursPolicy",
  description: "DEFER: send at the next allowed time. SKIP: drop the message.",
});

const QuietHours = builder.simpleObject("QuietHours", {
  description: "Local times (consumer's zone, else the creator's) when no message is sent.",
  fields: (t) => ({
    start: t.string({ description: "HH:MM" }),
    end: t.string({ description: "HH:MM" }),
    policy: t.field({ type: QuietHoursPolicyEnum }),
  }),
});

const FrequencyCapRef = builder.simpleObject("FrequencyCap", {
  fields: (t) => ({
    channel: t.field({ type: ChannelEnum }),
    max: t.int({ description: "Messages allowed per consumer in the window." }),
    windowHours: t.int(),
  }),
});

const CapSourceEnum = builder.enumType("FrequencyCapSource", {
  values: { CREATOR: { description: "Set by the creator." }, DEFAULT: { description: "The platform's default." } },
});

const EffectiveFrequencyCapRef = builder
  .objectRef<{ channel: Channel; max: number; windowHours: number; source: "CREATOR" | "DEFAULT" }>(
    "EffectiveFrequencyCap",
  )
  .implement({
    fields: (t) => ({
      channel: t.field({ type: ChannelEnum, resolve: (c) => c.channel }),
      max: t.exposeInt("max", { description: "Messages allowed per consumer in the window." }),
      windowHours: t.exposeInt("windowHours"),
      source: t.field({ type: CapSourceEnum, resolve: (c) => c.source }),
    }),
  });

const CHANNELS = Object.values(Channel);

export const CreatorNode = builder.prismaNode("Creator", {
  id: { field: "id" },
  // Another creator's id loads as missing: null, as an unknown id.
  findUnique: (id, ctx) => ownCreatorById(id, ctx),
  nullable: true,
  authScopes: (creator) => ({ creator: creator.id }),
  fields: (t) => ({
    name: t.exposeString("name"),
    handle: t.exposeString("handle"),
    email: t.exposeString("email", { nullable: true }),
    phone: t.exposeString("phone", { nullable: true }),
    timezone: t.exposeString("timezone"),
    status: t.expose("status", { type: CreatorStatusEnum }),
    quietHours: t.field({
      type: QuietHours,
      resolve: (c) => ({
        start: formatTimeOfDay(c.quietHoursStart),
        end: formatTimeOfDay(c.quietHoursEnd),
        policy: c.quietHoursPolicy,
      }),
    }),
    frequencyCaps: t.field({
      type: [FrequencyCapRef],
      resolve: (c) =>
        Object.entries(c.frequencyCaps as Record<string, Omit<FrequencyCap, "channel">>).map(([channel, cap]) => ({
          channel: channel as Channel,
          ...cap,
        })),
    }),
    effectiveFrequencyCaps: t.field({
      type: [EffectiveFrequencyCapRef],
      description:
        "The caps the scheduler applies, per channel: the creator's own (frequencyCaps), else the platform default. A channel without one is not capped.",
      resolve: (c) =>
        CHANNELS.flatMap((channel) => {
          const rule = frequencyCapFor(c.frequencyCaps, channel);
          const own = Object.hasOwn((c.frequencyCaps ?? {}) as object, channel);
          return rule ? [{ channel, ...rule, source: own ? ("CREATOR" as const) : ("DEFAULT" as const) }] : [];
        }),
    }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    updatedAt: t.expose("updatedAt", { type: "DateTime" }),
    apiKeys: t.relation("apiKeys", { query: { orderBy: { createdAt: "desc" } } }),
  }),
});

builder.queryField("creators", (t) =>
  t.prismaConnection({
    type: "Creator",
    cursor: "id",
    authScopes: { admin: true },
    description: "Every creator on the platform, newest first (admin keys only).",
    resolve: (query, _root, _args, ctx) =>
      ctx.reads.db.creator.findMany({ ...query, orderBy: [{ createdAt: "desc" }, { id: "desc" }] }),
    totalCount: (_root, _args, ctx) => ctx.reads.db.creator.count(),
  }),
);

builder.queryField("creatorByHandle", (t) =>
  t.prismaField({
    type: "Creator",
    nullable: true,
    authScopes: { manager: true },
    args: { handle: t.arg.string({ required: true }) },
    // Another creator's handle answers null, as an unknown one.
    resolve: (query, _root, { handle }, ctx) =>
      ctx.reads.db.creator.findFirst({ ...query, where: { handle, ...ownCreatorFilter(ctx) } }),
  }),
);

const FrequencyCapInput = builder.inputType("FrequencyCapInput", {
  fields: (t) => ({
    channel: t.field({ type: ChannelEnum, required: true }),
    max: t.int({ required: true }),
    windowHours: t.int({ required: true }),
  }),
});

type InputFields = Parameters<Parameters<typeof builder.inputType>[1]["fields"]>[0];

/** The settings both inputs share; create adds the two fields it requires. */
const creatorSettings = (t: InputFields) => ({
  email: t.string(),
  phone: t.string({ description: "International format, e.g. +14155550123." }),
  timezone: t.string({ description: "IANA zone; defaults to UTC." }),
  status: t.field({ type: CreatorStatusEnum }),
  quietHoursStart: t.string({ description: "HH:MM local time." }),
  quietHoursEnd: t.string({ description: "HH:MM local time." }),
  quietHoursPolicy: t.field({ type: QuietHoursPolicyEnum }),
  frequencyCaps: t.field({ type: [FrequencyCapInput] }),
});

const HANDLE_RULE = "Unique: lowercase letters, digits, _ and -.";

const CreateCreatorInput = builder.inputType("CreateCreatorInput", {
  fields: (t) => ({
    name: t.string({ required: true }),
    handle: t.string({ required: true, description: HANDLE_RULE }),
    ...creatorSettings(t),
  }),
});

const UpdateCreatorInput = builder.inputType("UpdateCreatorInput", {
  fields: (t) => ({ name: t.string(), handle: t.string({ description: HANDLE_RULE }), ...creatorSettings(t) }),
});

builder.mutationField("createCreator", (t) =>
  t.field({
    type: CreatorNode,
    errors: mutationErrors,
    authScopes: { admin: true },
    description: "Creates a creator by hand, without onboarding (admin keys only).",
    args: { input: t.arg({ type: CreateCreatorInput, required: true }) },
    resolve: (_root, { input }, ctx) => createCreator(given(input), ctx.viewer),
  }),
);

builder.mutationField("updateCreator", (t) =>
  t.field({
    type: CreatorNode,
    errors: mutationErrors,
    args: {
      id: t.arg.globalID({ required: true, for: CreatorNode }),
      input: t.arg({ type: UpdateCreatorInput, required: true }),
    },
    authScopes: (_root, { id }) => ({ creator: id.id }),
    resolve: (_root, { id, input }, ctx) => updateCreator(id.id, given(input), ctx.viewer),
  }),
);
