import type { FieldIssue } from "../errors.js";
import type { WhatsAppTemplatePurpose, WhatsAppTemplateVariable } from "../generated/prisma/enums.js";

// WhatsApp message templates as Meta defines them: what a template may look like, how its body is
// filled, and which of the agent's messages each purpose stands in for. Pure functions: the
// registration (template-service.ts), the agent (agents/agent.ts) and the send rules
// (delivery/send-rules.ts) share them.
//
// Sources:
// - templates: https://developers.facebook.com/docs/whatsapp/business-management-api/message-templates
// - languages: https://developers.facebook.com/docs/whatsapp/business-management-api/message-templates/supported-languages
// - sending one: https://developers.facebook.com/docs/whatsapp/cloud-api/guides/send-message-templates
// - the customer-service window: https://developers.facebook.com/docs/whatsapp/pricing#customer-service-windows

/** WhatsApp's customer-service window: 24 hours from the consumer's last message. */
export const CUSTOMER_SERVICE_WINDOW_MS = 24 * 3_600_000;

/**
 * Whether a free-form (non-template) WhatsApp message may be sent at `at`: only within 24 hours of
 * the consumer's last message (`lastInboundAt`, null when they never wrote). Outside it WhatsApp
 * delivers template messages only.
 */
export function customerServiceWindowOpen(lastInboundAt: Date | null, at: Date): boolean {
  return lastInboundAt !== null && at.getTime() < lastInboundAt.getTime() + CUSTOMER_SERVICE_WINDOW_MS;
}

/** Meta's rule for a template name: lowercase letters, digits and underscores, at most 512 characters. */
export const TEMPLATE_NAME = /^[a-z0-9_]{1,512}$/;

/** Meta's limit for a template's body text, variables included. */
export const MAX_TEMPLATE_BODY_CHARS = 1024;

/** The language codes Meta accepts for a template (its supported-languages list). */
export const TEMPLATE_LANGUAGES: ReadonlySet<string> = new Set(
  (
    "af sq ar ar_EG ar_AE ar_LB ar_MA ar_QA az be_BY bn bn_IN bg ca zh_CN zh_HK zh_TW hr cs da prs_AF nl nl_BE " +
    "en en_GB en_US en_AE en_AU en_CA en_GH en_IE en_IN en_JM en_MY en_NZ en_QA en_SG en_UG en_ZA et fil fi " +
    "fr fr_BE fr_CA fr_CH fr_CI fr_MA ka de de_AT de_CH el gu ha he hi hu id ga it ja kn kk rw_RW ko ky_KG lo " +
    "lv lt mk ms ml mr nb ps_AF fa pl pt_BR pt_PT pa ro ru sr si_LK sk sl es es_AR es_CL es_CO es_CR es_DO es_EC " +
    "es_HN es_MX es_PA es_PE es_ES es_UY sw sv ta te th tr uk ur uz vi zu"
  ).split(" "),
);

/** A template as the agent uses it: an APPROVED one of the creator's. */
export type ApprovedTemplate = {
  name: string;
  language: string;
  purpose: WhatsAppTemplatePurpose;
  /** The body with its numbered variables, {{1}} first. */
  body: string;
  /** What fills each variable: variables[0] fills {{1}}. */
  variables: WhatsAppTemplateVariable[];
};

/**
 * A template message in an action's payload (`whatsAppTemplate`): the template's name and language,
 * and the text of each body variable in order. The payload's `message` is the body filled with
 * them, so conversations and checks see what the consumer reads.
 */
export type TemplateMessage = { name: string; language: string; parameters: string[] };

const PLACEHOLDER = /\{\{([^{}]*)\}\}/g;

/** The variable numbers of a body in order of appearance ({{2}} -> 2); NaN for a placeholder that is not a number. */
function placeholders(body: string): number[] {
  return [...body.matchAll(PLACEHOLDER)].map((m) => (/^\d+$/.test(m[1]) ? Number(m[1]) : Number.NaN));
}

/** How many variables a body has ({{1}}..{{n}}), for a body that passed checkTemplate. */
export function variableCount(body: string): number {
  return placeholders(body).length;
}

/**
 * What is wrong with a template's body and its variables, as Meta reviews them (an empty list when
 * nothing): 1 to 1024 characters; numbered variables only ({{1}}, {{2}}..., not named ones), each
 * once, numbered consecutively from 1; none at the very start or end of the body (Meta rejects
 * those as INVALID_FORMAT); and one `variables` entry per variable, saying what fills it.
 */
export function templateBodyIssues(body: string, variables: readonly WhatsAppTemplateVariable[]): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const length = Array.from(body).length;
  if (body.trim().length === 0 || length > MAX_TEMPLATE_BODY_CHARS) {
    issues.push({ path: "body", message: `1 to ${MAX_TEMPLATE_BODY_CHARS} characters (WhatsApp's limit)` });
    return issues;
  }
  const numbers = placeholders(body);
  if (numbers.some(Number.isNaN)) {
    issues.push({
      path: "body",
      message: "variables are numbered: {{1}}, {{2}}... (named variables are not supported)",
    });
    return issues;
  }
  const sorted = [...numbers].sort((a, b) => a - b);
  if (sorted.some((n, i) => n !== i + 1)) {
    issues.push({
      path: "body",
      message: `variables must be numbered consecutively from {{1}}, each once; found ${numbers.map((n) => `{{${n}}}`).join(", ")}`,
    });
    return issues;
  }
  const trimmed = body.trim();
  if (numbers.length > 0 && (/^\{\{\d+\}\}/.test(trimmed) || /\{\{\d+\}\}$/.test(trimmed))) {
    issues.push({ path: "body", message: "WhatsApp refuses a body that starts or ends with a variable" });
  }
  if (variables.length !== numbers.length) {
    issues.push({
      path: "variables",
      message: `one per variable: the body has ${numbers.length}, ${variables.length} given`,
    });
  }
  return issues;
}

/**
 * A variable's value as WhatsApp accepts it in a parameter: no line breaks or tabs, no more than
 * four spaces in a row (Cloud API error 132018), so whitespace runs become one space.
 */
export function parameterText(value: string): string {
  return value.replace(/\s+/g, " ").trim();
}

/** The body with {{n}} replaced by parameters[n - 1]: what the consumer reads. */
export function fillTemplateBody(body: string, parameters: readonly string[]): string {
  return body.replace(PLACEHOLDER, (whole, n: string) => parameters[Number(n) - 1] ?? whole);
}

/**
 * Which template purpose stands in for an agent message, by the message's key (the payload's
 * `template`): the welcome, a follow-up of a service (`follow_up:<service>`), the thank-you after an
 * enrolment. Null for the rest (answers to the consumer, notices): those are replies, sent within
 * the window the consumer's message opened, never as templates.
 */
export function templatePurposeOf(messageKey: string): WhatsAppTemplatePurpose | null {
  if (messageKey === "welcome") return "WELCOME";
  if (messageKey === "thank_you") return "THANK_YOU";
  if (messageKey.startsWith("follow_up:")) return "FOLLOW_UP";
  return null;
}

/**
 * The order in which templates of one purpose are tried: the agent writes in English, so English
 * ones first (`en`, then `en_US`, `en_GB` and the other English locales), then the rest as
 * registered. Closer does not know a consumer's language yet.
 */
export function byLanguagePreference<T extends { language: string }>(templates: readonly T[]): T[] {
  const rank = (language: string) =>
    language === "en" ? 0 : language === "en_US" ? 1 : language.startsWith("en_") ? 2 : 3;
  return templates
    .map((template, index) => ({ template, index }))
    .sort((a, b) => rank(a.template.language) - rank(b.template.language) || a.index - b.index)
    .map((t) => t.template);
}
