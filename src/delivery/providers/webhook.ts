import { createHmac } from "node:crypto";
import type { WebhookPayload } from "../action-payload.js";
import { postToProvider } from "./http.js";
import type { Provider } from "./provider.js";

export type WebhookSettings = { signingSecret: string; timeoutMs: number };

/**
 * The signature a receiver checks: HMAC-SHA256 over `${timestamp}.${body}`. Signing the timestamp
 * with the body lets the receiver refuse replays of an old request.
 */
export function webhookSignature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
}

/** A signed JSON POST to the URL the agent chose; X-Closer-Delivery lets the receiver drop duplicates. */
export function createWebhookProvider(settings: WebhookSettings): Provider<WebhookPayload> {
  return {
    name: "webhook",
    send: ({ actionId, payload }) => {
      const body = JSON.stringify({ id: actionId, event: payload.event, data: payload.data });
      const timestamp = String(Math.floor(Date.now() / 1000));
      return postToProvider(
        {
          url: payload.url,
          headers: {
            "content-type": "application/json",
            "user-agent": "Closer-Webhooks/1",
            "x-closer-delivery": actionId,
            "x-closer-event": payload.event,
            "x-closer-timestamp": timestamp,
            "x-closer-signature": webhookSignature(settings.signingSecret, timestamp, body),
          },
          body,
          timeoutMs: settings.timeoutMs,
        },
        () => ({ providerMessageId: null }),
      );
    },
    close: async () => {},
  };
}
