import { GuardedHttpClient, outboundAllowList } from "../../outbound/guarded-http.js";
import type { WhatsAppPayload } from "../action-payload.js";
import { postToProvider } from "./http.js";
import type { Provider } from "./provider.js";

export type WhatsAppSettings = {
  /** Graph API base with its version, e.g. https://graph.facebook.com/v19.0 */
  apiUrl: string;
  phoneNumberId: string;
  token: string;
  timeoutMs: number;
};

/** A text message through the WhatsApp Cloud API; the answer's message id (wamid) ties status callbacks to the action. */
export function createWhatsAppProvider(settings: WhatsAppSettings): Provider<WhatsAppPayload> {
  const endpoint = `${settings.apiUrl.replace(/\/$/, "")}/${encodeURIComponent(settings.phoneNumberId)}/messages`;
  // The operator chose this endpoint: its host is admitted for this provider, wherever it is.
  const client = new GuardedHttpClient(outboundAllowList([settings.apiUrl]));
  return {
    name: "whatsapp-cloud",
    send: ({ payload }) =>
      postToProvider(
        {
          url: endpoint,
          headers: { "content-type": "application/json", authorization: `Bearer ${settings.token}` },
          body: JSON.stringify({
            messaging_product: "whatsapp",
            recipient_type: "individual",
            to: payload.to,
            type: "text",
            text: { body: payload.message, preview_url: false },
          }),
          timeoutMs: settings.timeoutMs,
        },
        ({ body }) => {
          const id = (body as { messages?: { id?: unknown }[] } | null)?.messages?.[0]?.id;
          return typeof id === "string" ? id : null;
        },
        client,
      ),
    close: () => client.close(),
  };
}
