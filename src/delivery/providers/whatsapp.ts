import { GuardedHttpClient, outboundAllowList } from "../../outbound/guarded-http.js";
import type { WhatsAppPayload } from "../action-payload.js";
import { postToProvider } from "./http.js";
import type { Provider, SendResult } from "./provider.js";

export type WhatsAppSettings = {
  /** Graph API base with its version, e.g. https://graph.facebook.com/v19.0 */
  apiUrl: string;
  /** The platform's number, shared by creators without one of their own. */
  phoneNumberId: string;
  token: string;
  timeoutMs: number;
};

/** The part of a Cloud API send answer read here: https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages */
type SendAnswer = { contacts?: { wa_id?: unknown }[]; messages?: { id?: unknown }[] } | null;

/**
 * The Cloud API request body for a payload: a template message when it names one (its body
 * variables as text parameters, in order), else a text message
 * (https://developers.facebook.com/docs/whatsapp/cloud-api/guides/send-message-templates,
 * https://developers.facebook.com/docs/whatsapp/cloud-api/messages/text-messages).
 */
export function cloudApiMessage(payload: WhatsAppPayload): Record<string, unknown> {
  const base = { messaging_product: "whatsapp", recipient_type: "individual", to: payload.to };
  const template = payload.whatsAppTemplate;
  if (!template) return { ...base, type: "text", text: { body: payload.message, preview_url: false } };
  return {
    ...base,
    type: "template",
    template: {
      name: template.name,
      language: { code: template.language },
      // A body without variables takes no components.
      ...(template.parameters.length > 0
        ? {
            components: [{ type: "body", parameters: template.parameters.map((text) => ({ type: "text", text })) }],
          }
        : {}),
    },
  };
}

/**
 * A text or template message through the WhatsApp Cloud API, from the creator's own number when the request
 * names one, else from the platform's. The answer's message id (wamid) ties status callbacks and
 * replies to the action; its contact's wa_id is how WhatsApp will name the consumer in callbacks.
 */
export function createWhatsAppProvider(settings: WhatsAppSettings): Provider<WhatsAppPayload> {
  const base = settings.apiUrl.replace(/\/$/, "");
  // The operator chose this endpoint: its host is admitted for this provider, wherever it is.
  const client = new GuardedHttpClient(outboundAllowList([settings.apiUrl]));
  return {
    name: "whatsapp-cloud",
    send: async ({ payload, whatsAppSender }) => {
      const from = whatsAppSender ?? { phoneNumberId: settings.phoneNumberId, accessToken: settings.token };
      const result = await postToProvider(
        {
          url: `${base}/${encodeURIComponent(from.phoneNumberId)}/messages`,
          headers: { "content-type": "application/json", authorization: `Bearer ${from.accessToken}` },
          body: JSON.stringify(cloudApiMessage(payload)),
          timeoutMs: settings.timeoutMs,
        },
        ({ body }) => {
          const answer = body as SendAnswer;
          const id = answer?.messages?.[0]?.id;
          const waId = answer?.contacts?.[0]?.wa_id;
          return {
            providerMessageId: typeof id === "string" ? id : null,
            sentFrom: from.phoneNumberId,
            ...(typeof waId === "string" && waId.length > 0 ? { recipientId: waId } : {}),
          };
        },
        client,
      );
      return result.ok ? result : withoutSecret(result, from.accessToken);
    },
    close: () => client.close(),
  };
}

/**
 * A failure with the token cut out wherever it appears: the reason and answer are stored with the
 * action, which the creator reads, and an HTTP client's error may quote a header value.
 */
function withoutSecret(failure: Extract<SendResult, { ok: false }>, token: string): SendResult {
  const redact = (text: string) => text.replaceAll(token, "[token]");
  return { ...failure, reason: redact(failure.reason), answer: JSON.parse(redact(JSON.stringify(failure.answer))) };
}
