import { config } from "../config.js";
import { CreatorNode } from "../creators/schema.js";
import { db } from "../db/client.js";
import { NotFoundError, ValidationError } from "../errors.js";
import { CallbackItemOutcome } from "../generated/prisma/enums.js";
import { builder } from "../graphql/builder.js";
import { mutationErrors } from "../graphql/error-types.js";
import { reopenCallbackItem } from "./callback-store.js";
import { processCallbackItems } from "./callbacks.js";
import { removeWhatsAppSender, setWhatsAppSender, sharedSender } from "./sender-store.js";

const WhatsAppSenderRef = builder.simpleObject("WhatsAppSender", {
  description: "The WhatsApp Business number a creator's messages go out from and replies come back to.",
  fields: (t) => ({
    phoneNumberId: t.string({ description: "The number's phone_number_id in the WhatsApp Cloud API." }),
    shared: t.boolean({
      description:
        "True for the platform's number, shared by every creator without one of its own: a reply without reply context goes to the creator that wrote to the consumer last within 24 hours, else it is kept unrouted for admins.",
    }),
  }),
});

builder.prismaObjectFields("Creator", (t) => ({
  whatsAppSender: t.field({
    type: WhatsAppSenderRef,
    select: { whatsAppSender: { select: { phoneNumberId: true } } },
    resolve: (creator) =>
      creator.whatsAppSender ? { phoneNumberId: creator.whatsAppSender.phoneNumberId, shared: false } : sharedSender(),
  }),
}));

const SetWhatsAppSenderInput = builder.inputType("SetWhatsAppSenderInput", {
  fields: (t) => ({
    phoneNumberId: t.string({ required: true, description: "The business number's phone_number_id." }),
    accessToken: t.string({ required: true, description: "A Cloud API token for it. Stored, never returned." }),
  }),
});

builder.mutationField("setWhatsAppSender", (t) =>
  t.field({
    type: CreatorNode,
    errors: mutationErrors,
    authScopes: { admin: true },
    description:
      "Gives a creator its own WhatsApp Business number (admin keys only: the number must be in the platform's WhatsApp Business account). Its messages go out from it, and everything received on it is the creator's.",
    args: {
      creatorId: t.arg.globalID({ required: true, for: CreatorNode }),
      input: t.arg({ type: SetWhatsAppSenderInput, required: true }),
    },
    resolve: async (_root, { creatorId, input }, ctx) => {
      await setWhatsAppSender(creatorId.id, input, ctx.viewer);
      return db.creator.findUniqueOrThrow({ where: { id: creatorId.id } });
    },
  }),
);

builder.mutationField("removeWhatsAppSender", (t) =>
  t.field({
    type: CreatorNode,
    errors: mutationErrors,
    authScopes: { admin: true },
    description: "Back to the platform's shared number (admin keys only).",
    args: { creatorId: t.arg.globalID({ required: true, for: CreatorNode }) },
    resolve: async (_root, { creatorId }, ctx) => {
      const creator = await db.creator.findUnique({ where: { id: creatorId.id } });
      if (!creator) throw new NotFoundError("Creator", creatorId.id);
      await removeWhatsAppSender(creatorId.id, ctx.viewer);
      return creator;
    },
  }),
);

const CallbackItemOutcomeEnum = builder.enumType(CallbackItemOutcome, {
  name: "CallbackItemOutcome",
  description:
    "RECORDED: stored as an event. IGNORED: not about anything of ours. UNROUTED: a consumer's message no creator could be told apart for. FAILED: could not be processed.",
});

type ItemBody = { item?: { from?: unknown; text?: { body?: unknown } } | null };

const WhatsAppCallbackItemNode = builder.prismaNode("WhatsAppCallbackItem", {
  id: { field: "id" },
  authScopes: { admin: true },
  description: "One status or inbound message of a signed WhatsApp notification, and what became of it.",
  fields: (t) => ({
    kind: t.exposeString("kind", { description: '"status" or "message".' }),
    itemKey: t.exposeString("itemKey"),
    phoneNumberId: t.exposeString("phoneNumberId", {
      nullable: true,
      description: "The business number it was received on.",
    }),
    from: t.string({
      nullable: true,
      description: "The consumer's wa_id, for a message.",
      resolve: (row) => {
        const from = (row.body as ItemBody).item?.from;
        return typeof from === "string" ? from : null;
      },
    }),
    body: t.expose("body", { type: "JSON", description: "The item as received, with the contact it names." }),
    outcome: t.expose("outcome", { type: CallbackItemOutcomeEnum, nullable: true, description: "Null while pending." }),
    reason: t.exposeString("reason", { nullable: true }),
    creators: t.field({
      type: [CreatorNode],
      description: "The creators it was recorded for.",
      resolve: (row, _args, ctx) => ctx.reads.db.creator.findMany({ where: { id: { in: row.creatorIds } } }),
    }),
    receivedAt: t.expose("receivedAt", { type: "DateTime" }),
    processedAt: t.expose("processedAt", { type: "DateTime", nullable: true }),
    attempts: t.exposeInt("attempts"),
  }),
});

builder.queryField("whatsAppCallbackItems", (t) =>
  t.prismaConnection({
    type: "WhatsAppCallbackItem",
    cursor: "id",
    authScopes: { admin: true },
    description:
      "WhatsApp callback items, newest first (admin keys only): UNROUTED and FAILED ones wait here for a person.",
    args: { outcome: t.arg({ type: [CallbackItemOutcomeEnum] }) },
    resolve: (query, _root, { outcome }, ctx) =>
      ctx.reads.db.whatsAppCallbackItem.findMany({
        ...query,
        where: outcome ? { outcome: { in: outcome } } : {},
        orderBy: [{ receivedAt: "desc" }, { id: "desc" }],
      }),
  }),
);

builder.mutationField("retryWhatsAppCallbackItem", (t) =>
  t.prismaField({
    type: "WhatsAppCallbackItem",
    errors: mutationErrors,
    authScopes: { admin: true },
    description:
      "Processes an UNROUTED or FAILED item again (after a consumer or a sender was added, or a fault fixed).",
    args: { id: t.arg.globalID({ required: true, for: WhatsAppCallbackItemNode }) },
    resolve: async (query, _root, { id }) => {
      const reopened = await reopenCallbackItem(id.id, config().WHATSAPP_CALLBACK_CLAIM_MS);
      if (!reopened) {
        const exists = await db.whatsAppCallbackItem.findUnique({ where: { id: id.id }, select: { outcome: true } });
        if (!exists) throw new NotFoundError("WhatsAppCallbackItem", id.id);
        throw new ValidationError(
          `Only UNROUTED or FAILED items are retried; this one is ${exists.outcome ?? "pending"}`,
        );
      }
      await processCallbackItems([reopened]);
      return db.whatsAppCallbackItem.findUniqueOrThrow({ ...query, where: { id: id.id } });
    },
  }),
);
