import { createHmac, timingSafeEqual } from "node:crypto";
import type { Plugin } from "graphql-yoga";
import { z } from "zod";
import { config } from "../config.js";
import { pool } from "../db/client.js";
import { logger } from "../logger.js";
import { publishActionChanges } from "./action-feed.js";
import { fallbackFor, parsePayload } from "./action-payload.js";
import { recordDeliveryEvent } from "./delivery-events.js";
import { failAfterAcceptance, findByProviderMessageId, type SentAction } from "./delivery-store.js";

// WhatsApp Cloud API callbacks: message statuses and the consumer's inbound messages, signed by
// Meta with the app secret. Each becomes an event on the consumer, keyed by WhatsApp's own ids,
// so a callback Meta delivers twice is stored once.

export const WHATSAPP_CALLBACK_PATH = "/webhooks/whatsapp";

const statusUpdate = z.object({
  id: z.string(),
  status: z.string(),
  timestamp: z.string().optional(),
  errors: z.array(z.object({ code: z.number().optional(), title: z.string().optional() }).loose()).optional(),
});

const inboundMessage = z.object({
  from: z.string(),
  id: z.string(),
  timestamp: z.string().optional(),
  type: z.string(),
  text: z.object({ body: z.string() }).optional(),
  button: z.object({ text: z.string() }).optional(),
  interactive: z
    .object({
      button_reply: z.object({ title: z.string() }).optional(),
      list_reply: z.object({ title: z.string() }).optional(),
    })
    .optional(),
  /** Present when the consumer answered one of our messages. */
  context: z.object({ id: z.string() }).optional(),
});

const notification = z.object({
  entry: z.array(
    z.object({
      changes: z.array(
        z.object({
          value: z.object({
            statuses: z.array(statusUpdate).optional(),
            messages: z.array(inboundMessage).optional(),
          }),
        }),
      ),
    }),
  ),
});

type StatusUpdate = z.infer<typeof statusUpdate>;
type InboundMessage = z.infer<typeof inboundMessage>;

/** "sent" says nothing the action row does not; the others become events. */
const STATUS_EVENTS: Record<string, string> = {
  delivered: "whatsapp_delivered",
  read: "whatsapp_read",
  failed: "whatsapp_failed",
};

/** X-Hub-Signature-256 is "sha256=" and the hex HMAC-SHA256 of the raw body under the app secret. */
export function hasValidSignature(rawBody: Buffer, header: string | null, appSecret: string): boolean {
  if (!header?.startsWith("sha256=")) return false;
  const expected = createHmac("sha256", appSecret).update(rawBody).digest();
  const given = Buffer.from(header.slice("sha256=".length), "hex");
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function timestampOf(seconds: string | undefined): Date {
  const at = Number(seconds) * 1000;
  return Number.isFinite(at) && at > 0 ? new Date(at) : new Date();
}

/** Records one status update; false when it names no message of ours (ignored). */
async function handleStatus(update: StatusUpdate): Promise<boolean> {
  const type = STATUS_EVENTS[update.status];
  if (!type) return true;
  const action = await findByProviderMessageId("WHATSAPP", update.id);
  if (!action) return false;
  if (update.status === "failed") await failAccepted(action, update);
  await recordDeliveryEvent({
    creatorId: action.creatorId,
    consumerId: action.consumerId,
    type,
    payload: { actionId: action.id, providerMessageId: update.id, ...(update.errors ? { errors: update.errors } : {}) },
    occurredAt: timestampOf(update.timestamp),
    idempotencyKey: `whatsapp:${update.id}:${update.status}`,
  });
  return true;
}

/** WhatsApp accepted the message, then could not deliver it: the action fails and its fallback is planned. */
async function failAccepted(action: SentAction, update: StatusUpdate): Promise<void> {
  const errors = (update.errors ?? []).map((e) => [e.code, e.title].filter(Boolean).join(" ")).join("; ");
  const checked = parsePayload("WHATSAPP", action.payload);
  const fallback =
    checked.ok && checked.value.channel === "WHATSAPP" ? fallbackFor(action, checked.value.payload) : null;
  const changes = await failAfterAcceptance(
    action,
    `undeliverable, reported by WhatsApp: ${errors || "no reason given"}`,
    { status: update.status, errors: update.errors ?? [] },
    fallback,
    new Date(),
  );
  await publishActionChanges(changes);
}

/**
 * The consumer an inbound message comes from: the one whose message it answers, else, since one
 * phone may be a consumer of several creators, the one we last wrote to on WhatsApp.
 */
async function senderOf(message: InboundMessage): Promise<{ creatorId: string; consumerId: string } | null> {
  if (message.context) {
    const answered = await findByProviderMessageId("WHATSAPP", message.context.id);
    if (answered) return { creatorId: answered.creatorId, consumerId: answered.consumerId };
  }
  const { rows } = await pool.query<{ creatorId: string; consumerId: string }>(
    `SELECT co."creatorId", co.id AS "consumerId" FROM consumers co
      WHERE co.phone = $1
      ORDER BY (SELECT max(a."sentAt") FROM actions a WHERE a."consumerId" = co.id AND a.channel = 'WHATSAPP')
               DESC NULLS LAST, co."createdAt" DESC
      LIMIT 1`,
    [`+${message.from.replace(/\D/g, "")}`],
  );
  return rows[0] ?? null;
}

/** The opt-out keywords carriers and WhatsApp users expect to work, alone in a reply. */
const OPT_OUT_REPLY = /^\s*(stop|stopall|unsubscribe|cancel|end|quit|opt[ -]?out)\s*[.!]*\s*$/i;

/** Records one inbound message; false when it comes from no known consumer (ignored). */
async function handleInbound(message: InboundMessage): Promise<boolean> {
  const sender = await senderOf(message);
  if (!sender) return false;
  const text =
    message.text?.body ??
    message.button?.text ??
    message.interactive?.button_reply?.title ??
    message.interactive?.list_reply?.title ??
    null;
  await recordDeliveryEvent({
    ...sender,
    // "STOP" and its kin are an opt-out from WhatsApp, honoured at once (planned messages cancelled).
    type: text && OPT_OUT_REPLY.test(text) ? "unsubscribed" : "whatsapp_replied",
    payload: {
      channel: "WHATSAPP",
      text,
      messageType: message.type,
      providerMessageId: message.id,
      inReplyTo: message.context?.id ?? null,
    },
    occurredAt: timestampOf(message.timestamp),
    idempotencyKey: `whatsapp:${message.id}`,
  });
  return true;
}

/**
 * Serves WHATSAPP_CALLBACK_PATH: Meta's GET verification handshake, and signed POST notifications.
 * A notification that could not be stored answers 500, so Meta delivers it again later.
 */
export function whatsAppCallbacks(): Plugin {
  return {
    async onRequest({ request, url, endResponse, fetchAPI }) {
      if (url.pathname !== WHATSAPP_CALLBACK_PATH) return;
      const respond = (status: number, body = "") => endResponse(new fetchAPI.Response(body, { status }));
      const settings = config();

      if (request.method === "GET") {
        const params = url.searchParams;
        const verified =
          params.get("hub.mode") === "subscribe" && params.get("hub.verify_token") === settings.WHATSAPP_VERIFY_TOKEN;
        return verified ? respond(200, params.get("hub.challenge") ?? "") : respond(403);
      }
      if (request.method !== "POST") return respond(405);

      const rawBody = Buffer.from(await request.arrayBuffer());
      if (!hasValidSignature(rawBody, request.headers.get("x-hub-signature-256"), settings.WHATSAPP_APP_SECRET)) {
        return respond(401, "invalid signature");
      }
      let parsed: z.infer<typeof notification>;
      try {
        parsed = notification.parse(JSON.parse(rawBody.toString("utf8")));
      } catch {
        return respond(400, "not a WhatsApp notification");
      }
      // One log line per notification, whatever it carries: a notification of 5,000 items must
      // not write 5,000 lines.
      const ignored = { statuses: 0, messages: 0 };
      try {
        for (const change of parsed.entry.flatMap((e) => e.changes)) {
          for (const update of change.value.statuses ?? []) if (!(await handleStatus(update))) ignored.statuses++;
          for (const message of change.value.messages ?? []) if (!(await handleInbound(message))) ignored.messages++;
        }
        if (ignored.statuses + ignored.messages > 0) {
          logger.info(ignored, "WhatsApp notification items for unknown messages or numbers ignored");
        }
      } catch (error) {
        logger.error({ err: error }, "WhatsApp notification not processed");
        return respond(500);
      }
      respond(200, "ok");
    },
  };
}
