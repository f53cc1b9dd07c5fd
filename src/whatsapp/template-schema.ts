import { CreatorNode } from "../creators/schema.js";
import {
  WhatsAppTemplateCategory,
  WhatsAppTemplatePurpose,
  WhatsAppTemplateStatus,
  WhatsAppTemplateVariable,
} from "../generated/prisma/enums.js";
import { builder } from "../graphql/builder.js";
import { mutationErrors } from "../graphql/error-types.js";
import { ownRowById } from "../graphql/tenancy.js";
import { registerWhatsAppTemplate, setWhatsAppTemplateStatus } from "./template-service.js";

const META_TEMPLATES = "https://developers.facebook.com/docs/whatsapp/business-management-api/message-templates";

const CategoryEnum = builder.enumType(WhatsAppTemplateCategory, {
  name: "WhatsAppTemplateCategory",
  description: `Meta's template categories (${META_TEMPLATES}). The agent sends MARKETING and UTILITY ones; AUTHENTICATION templates (one-time passcodes) are refused at registration.`,
});

const StatusEnum = builder.enumType(WhatsAppTemplateStatus, {
  name: "WhatsAppTemplateStatus",
  description:
    "Meta's review status of a template. Only APPROVED templates are sent; a template that stops being APPROVED is not sent, also for messages already planned with it.",
});

const PurposeEnum = builder.enumType(WhatsAppTemplatePurpose, {
  name: "WhatsAppTemplatePurpose",
  description:
    "Which of the agent's messages a template stands in for when WhatsApp's customer-service window is closed: WELCOME (a newly interested consumer), FOLLOW_UP (repeated views of a service), THANK_YOU (after an enrolment).",
});

const VariableEnum = builder.enumType(WhatsAppTemplateVariable, {
  name: "WhatsAppTemplateVariable",
  description:
    "What fills a numbered variable: the consumer's first name, the creator's name, or the name, link, price or one-line pitch (without its final full stop) of the service the message is about (a follow-up's service; the service a welcome or thank-you names that the consumer visited). A template whose variable has no value for a message (no name, a service without a link) is not used for it.",
});

export const WhatsAppTemplateNode = builder.prismaNode("WhatsAppTemplate", {
  id: { field: "id" },
  // Another creator's id loads as missing: null, as an unknown id.
  findUnique: (id, ctx) => ownRowById(id, ctx),
  nullable: true,
  authScopes: (template) => ({ creator: template.creatorId }),
  description:
    "A creator's WhatsApp message template: outside the customer-service window (24 hours from the consumer's last message) WhatsApp delivers template messages only, so the agent sends its APPROVED template for the message's purpose, else falls back to email or sends nothing and says why.",
  fields: (t) => ({
    name: t.exposeString("name", { description: "Meta's template name (lowercase letters, digits, underscores)." }),
    language: t.exposeString("language", { description: "Meta's language code, e.g. en_US." }),
    category: t.expose("category", { type: CategoryEnum }),
    purpose: t.expose("purpose", { type: PurposeEnum }),
    body: t.exposeString("body", { description: "The body text with its numbered variables {{1}}, {{2}}..." }),
    variables: t.expose("variables", {
      type: [VariableEnum],
      description: "What fills each variable, in order: the first fills {{1}}.",
    }),
    status: t.expose("status", { type: StatusEnum }),
    statusReason: t.exposeString("statusReason", {
      nullable: true,
      description: "Why Meta rejected, paused or disabled it.",
    }),
    statusChangedAt: t.expose("statusChangedAt", { type: "DateTime" }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    creator: t.relation("creator"),
  }),
});

const WhatsAppTemplateFilter = builder.inputType("WhatsAppTemplateFilter", {
  fields: (t) => ({
    status: t.field({ type: [StatusEnum], description: "Any of these statuses." }),
    purpose: t.field({ type: [PurposeEnum] }),
  }),
});

builder.prismaObjectFields("Creator", (t) => ({
  whatsAppTemplates: t.relatedConnection("whatsAppTemplates", {
    cursor: "id",
    totalCount: true,
    description: "The creator's WhatsApp message templates, oldest first (the order the agent tries them in).",
    args: { filter: t.arg({ type: WhatsAppTemplateFilter }) },
    query: ({ filter }) => ({
      where: {
        ...(filter?.status ? { status: { in: filter.status } } : {}),
        ...(filter?.purpose ? { purpose: { in: filter.purpose } } : {}),
      },
      orderBy: [{ createdAt: "asc" }, { id: "asc" }],
    }),
  }),
}));

const RegisterWhatsAppTemplateInput = builder.inputType("RegisterWhatsAppTemplateInput", {
  fields: (t) => ({
    name: t.string({
      required: true,
      description: "Lowercase letters, digits and underscores, at most 512 characters, as in the WhatsApp Manager.",
    }),
    language: t.string({ required: true, description: "A language code Meta supports: en_US, es, pt_BR..." }),
    category: t.field({ type: CategoryEnum, required: true }),
    purpose: t.field({ type: PurposeEnum, required: true }),
    body: t.string({
      required: true,
      description:
        "At most 1,024 characters; numbered variables {{1}}, {{2}}... each once, consecutive from 1, none at the very start or end, never two side by side; braces only in variables.",
    }),
    variables: t.field({
      type: [VariableEnum],
      required: true,
      description: "What fills each variable, one per variable, in order.",
    }),
  }),
});

builder.mutationField("registerWhatsAppTemplate", (t) =>
  t.field({
    type: WhatsAppTemplateNode,
    errors: mutationErrors,
    description: `Registers a WhatsApp message template the creator submitted to Meta (${META_TEMPLATES}); PENDING until an operator records Meta's decision with setWhatsAppTemplateStatus. ValidationError for what Meta would refuse; ConflictError for a name and language the creator already has, or, for a creator on the platform's shared WhatsApp number, that another creator on that number has: templates belong to the WhatsApp Business Account that owns the number, keyed by name and language, so creators sharing it share one namespace (prefix names with your handle). Audited.`,
    args: {
      creatorId: t.arg.globalID({ required: true, for: CreatorNode }),
      input: t.arg({ type: RegisterWhatsAppTemplateInput, required: true }),
    },
    authScopes: (_root, { creatorId }) => ({ creator: creatorId.id }),
    resolve: (_root, { creatorId, input }, ctx) => registerWhatsAppTemplate(creatorId.id, input, ctx.viewer),
  }),
);

builder.mutationField("setWhatsAppTemplateStatus", (t) =>
  t.field({
    type: WhatsAppTemplateNode,
    errors: mutationErrors,
    description:
      "Records Meta's review of a template (admin keys only: the approval happens at Meta, not here). APPROVED lets the agent send it; any other status stops it, messages already planned with it included. REJECTED needs Meta's reason. Audited.",
    args: {
      id: t.arg.globalID({ required: true, for: WhatsAppTemplateNode }),
      status: t.arg({ type: StatusEnum, required: true }),
      reason: t.arg.string({ description: "Meta's reason for a rejection, a pause or a disabling." }),
    },
    authScopes: { admin: true },
    resolve: (_root, { id, status, reason }, ctx) =>
      setWhatsAppTemplateStatus(id.id, status, reason ?? null, ctx.viewer),
  }),
);
