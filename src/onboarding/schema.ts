import { CreatorNode } from "../creators/schema.js";
import { OnboardingStatus, OnboardingStepStatus } from "../generated/prisma/enums.js";
import { builder } from "../graphql/builder.js";
import { mutationErrors } from "../graphql/error-types.js";
import { ownRowById } from "../graphql/tenancy.js";
import { onboardCreator, regenerateProfile } from "./onboarding-service.js";

export const OnboardingStatusEnum = builder.enumType(OnboardingStatus, {
  name: "OnboardingStatus",
  description:
    "QUEUED, RUNNING, then SUCCEEDED (profile active, agent deployed), FAILED (see error) or NEEDS_REVIEW " +
    "(the profile says what the raw data does not support, or the raw data holds instructions to the AI: " +
    "stored inactive, see reviewReasons).",
});
const OnboardingStepStatusEnum = builder.enumType(OnboardingStepStatus, { name: "OnboardingStepStatus" });

builder.prismaObject("OnboardingLog", {
  name: "OnboardingStep",
  description: "A step of an onboarding run: a STARTED row, then an outcome row with the duration. Never changed.",
  fields: (t) => ({
    id: t.exposeID("id"),
    step: t.exposeString("step", {
      description:
        "generate_profile, validate, correct_profile (when the answer needed a second call), store_profile or deploy_agent.",
    }),
    status: t.expose("status", { type: OnboardingStepStatusEnum }),
    message: t.exposeString("message", { nullable: true }),
    details: t.expose("details", {
      type: "JSON",
      nullable: true,
      description: "Model usage, repairs made, validation issues, ids of what was created.",
    }),
    durationMs: t.exposeInt("durationMs", { nullable: true, description: "On outcome rows." }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
  }),
});

export const OnboardingNode = builder.prismaNode("Onboarding", {
  id: { field: "id" },
  // Another creator's id loads as missing: null, as an unknown id.
  findUnique: (id, ctx) => ownRowById(id, ctx),
  nullable: true,
  authScopes: (onboarding) => ({ creator: onboarding.creatorId }),
  description: "One run turning a creator's raw data into an active profile and a deployed sales agent.",
  fields: (t) => ({
    status: t.expose("status", { type: OnboardingStatusEnum }),
    error: t.exposeString("error", { nullable: true, description: "Why the run failed: the step and the reason." }),
    reviewReasons: t.exposeStringList("reviewReasons", {
      description:
        "Why the generated profile was held for review (status NEEDS_REVIEW): stored as a version that is not " +
        "active, no agent deployed from it. Read them and the check_facts step, then edit the profile or " +
        "activate the version (activateProfileVersion). Empty otherwise.",
    }),
    rawData: t.expose("rawData", { type: "JSON", description: "What the creator sent; regeneration starts from it." }),
    steps: t.relation("logs", { query: { orderBy: { createdAt: "asc" } } }),
    profile: t.relation("profile", { nullable: true, description: "The profile version this run stored." }),
    agent: t.relation("agent", { nullable: true, description: "The agent this run deployed." }),
    creator: t.relation("creator"),
    createdAt: t.expose("createdAt", { type: "DateTime", description: "When the run was queued." }),
    startedAt: t.expose("startedAt", { type: "DateTime", nullable: true }),
    finishedAt: t.expose("finishedAt", { type: "DateTime", nullable: true }),
    queuedMs: t.int({
      nullable: true,
      description: "Time between queueing and the start of the run.",
      resolve: (o) => (o.startedAt ? o.startedAt.getTime() - o.createdAt.getTime() : null),
    }),
    durationMs: t.int({
      nullable: true,
      description: "Time the run took, once finished.",
      resolve: (o) => (o.startedAt && o.finishedAt ? o.finishedAt.getTime() - o.startedAt.getTime() : null),
    }),
  }),
});

builder.prismaObjectFields("Creator", (t) => ({
  onboardings: t.relatedConnection("onboardings", {
    cursor: "id",
    totalCount: true,
    description: "Onboarding runs, newest first.",
    query: { orderBy: [{ createdAt: "desc" }, { id: "desc" }] },
  }),
}));

builder.queryField("onboarding", (t) =>
  t.prismaField({
    type: "Onboarding",
    nullable: true,
    authScopes: { manager: true },
    args: { id: t.arg.globalID({ required: true, for: OnboardingNode }) },
    resolve: (query, _root, { id }, ctx) =>
      ctx.reads.db.onboarding.findUnique({ ...query, where: ownRowById(id.id, ctx) }),
  }),
);

const OnboardingServiceInput = builder.inputType("OnboardingServiceInput", {
  fields: (t) => ({
    name: t.string({ required: true }),
    description: t.string(),
    price: t.float(),
    currency: t.string({ description: "ISO 4217, e.g. USD." }),
    url: t.string(),
    durationMinutes: t.int(),
  }),
});

const OnboardCreatorInput = builder.inputType("OnboardCreatorInput", {
  description: "A creator's raw data. The profile is generated from bio, services, links, testimonials and notes.",
  fields: (t) => ({
    name: t.string({ required: true }),
    handle: t.string({ required: true, description: "An existing creator with this handle is onboarded again." }),
    email: t.string(),
    phone: t.string({ description: "International format, e.g. +14155550123." }),
    timezone: t.string({ description: "IANA zone; defaults to UTC." }),
    bio: t.string(),
    services: t.field({ type: [OnboardingServiceInput] }),
    links: t.stringList(),
    testimonials: t.stringList(),
    audienceNotes: t.string(),
    freeText: t.string({ description: "Anything else: notes, a pasted page." }),
  }),
});

builder.mutationField("onboardCreator", (t) =>
  t.field({
    type: OnboardingNode,
    errors: mutationErrors,
    authScopes: { admin: true },
    description:
      "Creates the creator (or reuses the one with this handle) and queues its onboarding; answers at once " +
      "with the QUEUED run. Follow it with onboardingProgress (admin keys only).",
    args: { input: t.arg({ type: OnboardCreatorInput, required: true }) },
    resolve: (_root, { input }, ctx) => onboardCreator(input, ctx.viewer),
  }),
);

builder.mutationField("regenerateProfile", (t) =>
  t.field({
    type: OnboardingNode,
    errors: mutationErrors,
    description: "Starts a new onboarding run from the creator's last raw data; its profile becomes a new version.",
    args: { creatorId: t.arg.globalID({ required: true, for: CreatorNode }) },
    authScopes: (_root, { creatorId }) => ({ creator: creatorId.id }),
    resolve: (_root, { creatorId }, ctx) => regenerateProfile(creatorId.id, ctx.viewer),
  }),
);
