import { createHmac } from "node:crypto";
import { config } from "../../src/config.js";
import { WHATSAPP_PHONE_NUMBER_ID } from "./delivery-fixtures.js";

// Signed WhatsApp Cloud API notifications, as Meta posts them to the callback URL
// (https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/payload-examples).

/** X-Hub-Signature-256 of a body under the app secret. */
export const signWhatsApp = (body: string) =>
  `sha256=${createHmac("sha256", config().WHATSAPP_APP_SECRET).update(body).digest("hex")}`;

/** A notification with one change whose value is `value`, received on `phoneNumberId` (the shared number by default). */
export function whatsAppNotification(value: Record<string, unknown>, phoneNumberId = WHATSAPP_PHONE_NUMBER_ID): string {
  return JSON.stringify({
    object: "whatsapp_business_account",
    entry: [
      {
        id: "102290129340398",
        changes: [
          {
            field: "messages",
            value: {
              messaging_product: "whatsapp",
              metadata: { display_phone_number: "15550783881", phone_number_id: phoneNumberId },
              ...value,
            },
          },
        ],
      },
    ],
  });
}

/** POSTs a body to the API's callback URL, signed unless `signature` says otherwise (null: unsigned). */
export function postWhatsApp(apiUrl: string, body: string, signature: string | null = signWhatsApp(body)) {
  return fetch(new URL("/webhooks/whatsapp", apiUrl), {
    method: "POST",
    headers: { "content-type": "application/json", ...(signature ? { "x-hub-signature-256": signature } : {}) },
    body,
  });
}

/** Unix seconds, as WhatsApp stamps its items. */
export const unixSeconds = (at: Date) => String(Math.floor(at.getTime() / 1000));
