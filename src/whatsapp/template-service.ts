import { z } from "zod";
import { recordAudit } from "../audit/audit-log.js";
import { isStorableText } from "../db/storable-text.js";
import { inTransaction } from "../db/transaction.js";
import { ConflictError, NotFoundError, ValidationError } from "../errors.js";
import type { WhatsAppTemplate } from "../generated/prisma/client.js";
import {
  WhatsAppTemplateCategory,
  WhatsAppTemplatePurpose,
  type WhatsAppTemplateStatus,
  WhatsAppTemplateVariable,
} from "../generated/prisma/enums.js";
import type { Viewer } from "../viewer.js";
import { TEMPLATE_LANGUAGES, TEMPLATE_NAME, templateBodyIssues } from "./template-rules.js";
import {
  findTemplateForUpdate,
  insertTemplate,
  lockSharedNumberTemplateName,
  sharedNumberTemplateTaken,
  templateOwner,
  updateTemplateStatus,
} from "./template-store.js";

// A creator's WhatsApp message templates: registered by the creator (PENDING), their review
// status set by an operator as Meta decides it (the review itself happens at Meta).

const registration = z
  .object({
    name: z
      .string()
      .trim()
      .regex(TEMPLATE_NAME, "lowercase letters, digits and underscores, at most 512 characters (WhatsApp's rule)"),
    language: z
      .string()
      .trim()
      .refine((code) => TEMPLATE_LANGUAGES.has(code), "a WhatsApp template language code, such as en_US, es or pt_BR"),
    category: z
      .enum(WhatsAppTemplateCategory)
      // Authentication templates carry one-time passcodes in Meta's fixed wording: nothing the agent sends.
      .refine((category) => category !== "AUTHENTICATION", "the agent sends MARKETING or UTILITY templates only"),
    purpose: z.enum(WhatsAppTemplatePurpose),
    body: z.string().refine(isStorableText, "text only"),
    variables: z.array(z.enum(WhatsAppTemplateVariable)).max(100),
  })
  .superRefine((input, ctx) => {
    for (const issue of templateBodyIssues(input.body, input.variables)) {
      ctx.addIssue({ code: "custom", path: [issue.path], message: issue.message });
    }
  });

/** What a creator registers (see registerWhatsAppTemplate). */
export type TemplateRegistration = z.input<typeof registration>;

/**
 * A name of the creator's own to suggest when the shared number's namespace has the one it chose:
 * the name prefixed with its handle, in the characters Meta allows; null when too long.
 */
function prefixedName(handle: string, name: string): string | null {
  const prefixed = `${handle.replace(/[^a-z0-9_]+/g, "_")}_${name}`;
  return TEMPLATE_NAME.test(prefixed) ? prefixed : null;
}

/**
 * Registers a creator's template, PENDING until an operator records Meta's decision. Raises
 * ValidationError (paths `name`, `language`, `category`, `body`, `variables`: Meta's rules, see
 * template-rules.ts), NotFoundError for an unknown creator, and ConflictError when the name and
 * language (Meta's key for a WhatsApp Business Account's templates) are taken: by the creator, or,
 * for a creator sending from the platform's shared number, by another creator on that number,
 * whose WhatsApp Business Account they share (the same name would send one body to both
 * creators' consumers). Registrations on the shared number are serialised per name and language
 * (a transaction-scoped advisory lock), so two concurrent ones cannot both succeed. Audited.
 */
export async function registerWhatsAppTemplate(
  creatorId: string,
  input: TemplateRegistration,
  actor: Viewer | null,
): Promise<WhatsAppTemplate> {
  const parsed = registration.safeParse(input);
  if (!parsed.success) throw ValidationError.fromZod(parsed.error);
  const fields = { creatorId, ...parsed.data, body: parsed.data.body.trim() };
  try {
    return await inTransaction(async (tx) => {
      const owner = await templateOwner(tx, creatorId);
      if (!owner) throw new NotFoundError("Creator", creatorId);
      if (owner.sharedNumber) {
        await lockSharedNumberTemplateName(tx, fields.name, fields.language);
        if (await sharedNumberTemplateTaken(tx, creatorId, fields.name, fields.language)) {
          const suggestion = prefixedName(owner.handle, fields.name);
          throw new ConflictError(
            `Another creator on the platform's shared WhatsApp number has a template "${fields.name}" in ${fields.language}: templates on one number share Meta's names, so register it under a name of your own${suggestion ? `, such as "${suggestion}"` : ""} (prefixed with your handle)`,
          );
        }
      }
      const template = await insertTemplate(tx, fields);
      await recordAudit(tx, actor, {
        operation: "whatsapp_template.register",
        creatorId,
        targetType: "WhatsAppTemplate",
        targetId: template.id,
        details: { name: template.name, language: template.language, purpose: template.purpose },
      });
      return template;
    });
  } catch (error) {
    if ((error as { code?: string }).code === "23505") {
      throw new ConflictError(`The creator already has a template "${fields.name}" in ${fields.language}`);
    }
    throw error;
  }
}

/** Longest reason kept, in characters. */
const MAX_REASON_CHARS = 500;

/**
 * Records Meta's decision on a template (operators only: the review happens at Meta): APPROVED
 * lets the agent send it outside the customer-service window; any other status stops it, also for
 * messages already planned with it (checked again at send time). A rejection needs its reason;
 * approval clears it. Raises NotFoundError, ValidationError. Audited with the previous status.
 */
export async function setWhatsAppTemplateStatus(
  id: string,
  status: WhatsAppTemplateStatus,
  reason: string | null,
  actor: Viewer | null,
): Promise<WhatsAppTemplate> {
  const given = reason?.trim() || null;
  if (status === "REJECTED" && !given) {
    throw new ValidationError("Invalid input: reason: Meta gives a reason for every rejection: record it", [
      { path: "reason", message: "required for REJECTED" },
    ]);
  }
  if (given && (Array.from(given).length > MAX_REASON_CHARS || !isStorableText(given))) {
    throw new ValidationError(`Invalid input: reason: at most ${MAX_REASON_CHARS} characters of text`, [
      { path: "reason", message: `at most ${MAX_REASON_CHARS} characters of text` },
    ]);
  }
  return inTransaction(async (tx) => {
    const found = await findTemplateForUpdate(tx, id);
    if (!found) throw new NotFoundError("WhatsAppTemplate", id);
    const updated = await updateTemplateStatus(tx, id, status, status === "APPROVED" ? null : given);
    await recordAudit(tx, actor, {
      operation: "whatsapp_template.set_status",
      creatorId: found.creatorId,
      targetType: "WhatsAppTemplate",
      targetId: id,
      details: { from: found.status, to: status, reason: updated.statusReason },
    });
    return updated;
  });
}
