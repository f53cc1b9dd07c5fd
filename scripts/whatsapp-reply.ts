// `npm run whatsapp-reply -- <phone> "<text>" [<wamid quoted>]`: a consumer's WhatsApp message, posted
// to the API's callback URL signed with WHATSAPP_APP_SECRET, as Meta posts one
// (https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/payload-examples#text-messages),
// received on the platform's number (WHATSAPP_PHONE_NUMBER_ID). For trying conversations locally.
import { randomBytes } from "node:crypto";
import { config, loadConfigOrExit } from "../src/config.js";
import { WHATSAPP_CALLBACK_PATH } from "../src/whatsapp/callbacks.js";
import { postWhatsApp, whatsAppNotification } from "../test/support/whatsapp-notifications.js";

/** A consumer's text message as the Cloud API reports it. */
export type InboundText = {
  /** The sender's number, in any international format ("+44 7700 900123"). */
  from: string;
  /** Their WhatsApp profile name. */
  name?: string;
  text: string;
  /** The id of our message they reply to (WhatsApp's `context.id`), which routes the reply to its creator. */
  quoting?: string | null;
};

/**
 * Posts the message to the API at `apiUrl` (any URL of it) and answers the HTTP status: 200 once
 * the notification is stored for processing. The message id is new each time (`wamid.local…`).
 */
export async function postWhatsAppReply(apiUrl: string, message: InboundText): Promise<number> {
  const waId = message.from.replace(/\D/g, "");
  const response = await postWhatsApp(
    apiUrl,
    whatsAppNotification(
      {
        contacts: [{ wa_id: waId, profile: { name: message.name ?? "" } }],
        messages: [
          {
            from: waId,
            id: `wamid.local${randomBytes(12).toString("hex")}`,
            timestamp: String(Math.floor(Date.now() / 1000)),
            type: "text",
            text: { body: message.text },
            ...(message.quoting ? { context: { id: message.quoting } } : {}),
          },
        ],
      },
      config().WHATSAPP_PHONE_NUMBER_ID,
    ),
  );
  await response.body?.cancel();
  return response.status;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  loadConfigOrExit();
  const [from, text, quoting] = process.argv.slice(2);
  if (!from || !text) {
    console.error('Usage: npm run whatsapp-reply -- <phone> "<text>" [<wamid of the message quoted>]');
    process.exit(2);
  }
  const url = process.env.CLOSER_URL ?? `http://localhost:${config().PORT}/graphql`;
  const status = await postWhatsAppReply(url, { from, text, quoting }).catch((error: Error) => {
    console.error(`Could not reach the API at ${url}: ${error.message}. Is it running (npm start)?`);
    process.exit(1);
  });
  const callback = new URL(WHATSAPP_CALLBACK_PATH, url);
  console.log(status === 200 ? `Posted to ${callback}: "${text}" from ${from}` : `${callback} answered ${status}`);
  process.exitCode = status === 200 ? 0 : 1;
}
