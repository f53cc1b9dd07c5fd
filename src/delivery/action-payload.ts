import { z } from "zod";
import { config } from "../config.js";
import type { Channel } from "../generated/prisma/enums.js";
import { email, phone, webUrl } from "../validation.js";
import { parameterTextIssue, TEMPLATE_LANGUAGES, TEMPLATE_NAME } from "../whatsapp/template-rules.js";

// What an action's payload holds on each channel. Agents write payloads as JSON; they are
// checked here at send time, so a malformed one fails with a reason instead of a provider error.

const fallback = z.object({
  channel: z.enum(["EMAIL", "WHATSAPP"]),
  to: z.string().min(1),
  /** For an email fallback of a message that had no subject. */
  subject: z.string().trim().min(1).max(500).optional(),
});

const messageFields = {
  subject: z.string().trim().min(1).max(500).optional(),
  /** WhatsApp caps a text message at 4096 characters. */
  message: z.string().min(1).max(4096),
  template: z.string().optional(),
  /** Planned as a new action on this channel when this one fails for good. */
  fallback: fallback.optional(),
};

/**
 * A WhatsApp template message: the creator's template (name and language, as registered with Meta)
 * and the text of each body variable in order; `message` then holds the filled body. Sent with
 * the Cloud API's `type: "template"` only if the template is still APPROVED at send time
 * (send-rules.ts). Parameter text is checked as WhatsApp would (parameterTextIssue: no line breaks
 * or tabs, no five whitespace characters in a row, not blank; Cloud API error 132018).
 */
const whatsAppTemplate = z.object({
  name: z.string().regex(TEMPLATE_NAME),
  language: z.string().refine((code) => TEMPLATE_LANGUAGES.has(code), "not a WhatsApp template language code"),
  parameters: z
    .array(
      z
        .string()
        .max(1024)
        .superRefine((text, ctx) => {
          const issue = parameterTextIssue(text);
          if (issue) ctx.addIssue({ code: "custom", message: issue });
        }),
    )
    .max(100),
});

export const emailPayload = z.object({ to: email, ...messageFields });
export const whatsAppPayload = z.object({ to: phone, ...messageFields, whatsAppTemplate: whatsAppTemplate.optional() });
export const webhookPayload = z.object({
  url: webUrl.refine((url) => {
    const allowed = config().WEBHOOK_ALLOWED_HOSTS;
    return allowed.length === 0 || allowed.includes(new URL(url).hostname.toLowerCase());
  }, "host is not in WEBHOOK_ALLOWED_HOSTS"),
  event: z.string().min(1).max(200),
  data: z.record(z.string(), z.unknown()),
});

export type EmailPayload = z.output<typeof emailPayload>;
export type WhatsAppPayload = z.output<typeof whatsAppPayload>;
export type WebhookPayload = z.output<typeof webhookPayload>;
export type MessagePayload = EmailPayload | WhatsAppPayload;

export type ChannelPayload =
  | { channel: "EMAIL"; payload: EmailPayload }
  | { channel: "WHATSAPP"; payload: WhatsAppPayload }
  | { channel: "WEBHOOK"; payload: WebhookPayload };

export type PayloadCheck = { ok: true; value: ChannelPayload } | { ok: false; reason: string };

function describe(error: z.ZodError): string {
  return error.issues.map((i) => (i.path.length ? `${i.path.join(".")}: ${i.message}` : i.message)).join("; ");
}

export function parsePayload(channel: Channel, raw: unknown): PayloadCheck {
  const schema = { EMAIL: emailPayload, WHATSAPP: whatsAppPayload, WEBHOOK: webhookPayload }[channel];
  const parsed = schema.safeParse(raw);
  if (!parsed.success) return { ok: false, reason: `invalid ${channel} payload: ${describe(parsed.error)}` };
  return { ok: true, value: { channel, payload: parsed.data } as ChannelPayload };
}

/** The action planned on another channel when one fails for good. */
export type FallbackPlan = { channel: Channel; payload: object; reason: string };

/** The same message on the fallback channel the payload names, without a further fallback. */
export function fallbackFor(failed: { id: string; channel: Channel }, payload: MessagePayload): FallbackPlan | null {
  if (!payload.fallback) return null;
  const { channel, to, subject } = payload.fallback;
  return {
    channel,
    payload: { to, subject: subject ?? payload.subject, message: payload.message, template: payload.template },
    reason: `fallback for action ${failed.id}: ${failed.channel} failed`,
  };
}
