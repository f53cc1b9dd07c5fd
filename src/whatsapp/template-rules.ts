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

/** Anything in double braces: a variable ({{1}}) or a malformed one ({{name}}, {{01}}, {{ 1 }}). */
const PLACEHOLDER = /\{\{([^{}]*)\}\}/g;

/** A variable's number as Meta writes it: 1, 2... without a leading zero. */
const VARIABLE_NUMBER = /^[1-9]\d*$/;

/** Whitespace as JavaScript's \s knows it (non-breaking and other Unicode spaces, U+2028/U+2029), and U+0085. */
const WHITESPACE = "\\s\\u0085";

/** The variable numbers of a body in order of appearance ({{2}} -> 2); NaN for a placeholder that is not one. */
function placeholders(body: string): number[] {
  return [...body.matchAll(PLACEHOLDER)].map((m) => (VARIABLE_NUMBER.test(m[1]) ? Number(m[1]) : Number.NaN));
}

/** How many variables a body has ({{1}}..{{n}}), for a body that passed checkTemplate. */
export function variableCount(body: string): number {
  return placeholders(body).length;
}

/** Two variables with nothing but whitespace between them: {{1}} {{2}}. */
const ADJACENT_VARIABLES = new RegExp(`\\{\\{\\d+\\}\\}[${WHITESPACE}]*\\{\\{\\d+\\}\\}`, "u");

/**
 * What is wrong with a template's body and its variables, as Meta reviews them (an empty list when
 * nothing): 1 to 1024 characters; braces only in variables, each written {{1}}, {{2}}... (not
 * named, no spaces or leading zeros, no stray or third brace), once each, numbered consecutively
 * from 1; never two side by side with only whitespace between; none at the very start or end of
 * the body (Meta rejects these at review, e.g. as INVALID_FORMAT); and one `variables` entry per
 * variable, saying what fills it.
 *
 * Sources: the body limit in Meta's template components reference
 * (https://developers.facebook.com/documentation/business-messaging/whatsapp/templates/components);
 * the variable rules in Meta's template guidelines, "Common rejection reasons"
 * (https://developers.facebook.com/docs/whatsapp/message-templates/guidelines#common-rejection-reasons):
 * missing or mismatched curly braces ("the correct format is {{1}}"), variables that are not
 * sequential, that are next to each other, or at the start or end. Meta also rejects too many
 * variables for the body's length but publishes no threshold, so that is left to its review.
 */
export function templateBodyIssues(body: string, variables: readonly WhatsAppTemplateVariable[]): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const length = Array.from(body).length;
  if (body.trim().length === 0 || length > MAX_TEMPLATE_BODY_CHARS) {
    issues.push({ path: "body", message: `1 to ${MAX_TEMPLATE_BODY_CHARS} characters (WhatsApp's limit)` });
    return issues;
  }
  if (/[{}]/.test(body.replace(PLACEHOLDER, ""))) {
    issues.push({
      path: "body",
      message: "curly braces only in variables, in pairs: {{1}}; found a stray, unmatched or third brace",
    });
    return issues;
  }
  const found = [...body.matchAll(PLACEHOLDER)].map((m) => m[0]);
  const malformed = found.filter((placeholder) => !VARIABLE_NUMBER.test(placeholder.slice(2, -2)));
  if (malformed.length > 0) {
    issues.push({
      path: "body",
      message: `variables are numbered: {{1}}, {{2}}... (not named, no spaces or leading zeros); found ${malformed.join(", ")}`,
    });
    return issues;
  }
  const numbers = placeholders(body);
  const sorted = [...numbers].sort((a, b) => a - b);
  if (sorted.some((n, i) => n !== i + 1)) {
    issues.push({
      path: "body",
      message: `variables must be numbered consecutively from {{1}}, each once; found ${found.join(", ")}`,
    });
    return issues;
  }
  if (ADJACENT_VARIABLES.test(body)) {
    issues.push({
      path: "body",
      message: "WhatsApp refuses two variables side by side ({{1}} {{2}}): put words between them",
    });
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

/** Line breaks of any kind (\n, \r, \v, \f, U+0085, U+2028, U+2029) and tabs. */
const PARAMETER_BREAK = /[\n\r\v\f\t\u0085\u2028\u2029]/u;
/** Five or more whitespace characters in a row, of any kind. */
const PARAMETER_WHITESPACE_RUN = new RegExp(`[${WHITESPACE}]{5,}`, "u");
const BLANK = new RegExp(`^[${WHITESPACE}]*$`, "u");
const WHITESPACE_RUNS = new RegExp(`[${WHITESPACE}]+`, "gu");

/**
 * Why WhatsApp would refuse this text as a body parameter, or null. The Cloud API refuses the
 * message (error 132018, "Param text cannot have new-line/tab characters or more than 4
 * consecutive spaces":
 * https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes)
 * for a line break of any kind or a tab, and for five whitespace characters in a row; a parameter
 * must also have text (an empty one is refused), so one of whitespace only is refused too.
 */
export function parameterTextIssue(text: string): string | null {
  if (BLANK.test(text)) return "empty or only whitespace";
  if (PARAMETER_BREAK.test(text)) return "no line breaks or tabs (WhatsApp error 132018)";
  if (PARAMETER_WHITESPACE_RUN.test(text))
    return "no more than four whitespace characters in a row (WhatsApp error 132018)";
  return null;
}

/**
 * A variable's value as WhatsApp accepts it in a parameter (see parameterTextIssue): whitespace
 * runs, line breaks and tabs become one space.
 */
export function parameterText(value: string): string {
  return value.replace(WHITESPACE_RUNS, " ").trim();
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
