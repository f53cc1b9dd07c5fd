import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { Plugin } from "graphql-yoga";
import { z } from "zod";
import { publishActionChanges } from "../actions/action-feed.js";
import { fallbackFor, parsePayload } from "../actions/action-payload.js";
import { recordDeliveryEvent } from "../actions/delivery-events.js";
import { failAfterAcceptance, findByProviderMessageId, type SentAction } from "../actions/delivery-store.js";
import { config } from "../config.js";
import { rememberWaId } from "../consumers/whatsapp-ids.js";
import { ingestEvents } from "../events/ingest.js";
import { logger } from "../logger.js";
import { isOutage, OUTAGE_RETRY_AFTER_SECONDS } from "../outages.js";
import {
  type NewCallbackItem,
  type PendingCallbackItem,
  pendingCallbackItems,
  pruneCallbackItems,
  recordCallbackItems,
  type Settlement,
  settleCallbackItem,
} from "./callback-store.js";
import { type Recipient, routeInbound } from "./routing.js";
import { receivingNumber } from "./sender-store.js";

// WhatsApp Cloud API callbacks: message statuses and the consumers' inbound messages, signed by
// Meta with the app secret (https://developers.facebook.com/docs/graph-api/webhooks/getting-started).
// Every item is recorded before the notification is answered, then processed on its own, so one
// bad item fails only itself; each becomes an event on its consumer, keyed by WhatsApp's own ids,
// so an item Meta delivers twice is stored once.

export const WHATSAPP_CALLBACK_PATH = "/webhooks/whatsapp";

const statusUpdate = z.object({
  id: z.string().min(1),
  status: z.string().min(1),
  timestamp: z.string().optional(),
  /** The consumer's wa_id. */
  recipient_id: z.string().optional(),
  errors: z.array(z.object({ code: z.number().optional(), title: z.string().optional() }).loose()).optional(),
});

const inboundMessage = z.object({
  /** The consumer's wa_id. */
  from: z.string().regex(/^\d{6,20}$/, "must be a wa_id"),
  id: z.string().min(1),
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

/** The envelope: items are read one by one, so a malformed item does not refuse the others. */
const notification = z.object({
  entry: z.array(
    z.object({
      changes: z.array(
        z.object({
          value: z.object({
            metadata: z.object({ phone_number_id: z.string() }).loose().optional(),
            contacts: z.array(z.unknown()).optional(),
            statuses: z.array(z.unknown()).optional(),
            messages: z.array(z.unknown()).optional(),
          }),
        }),
      ),
    }),
  ),
});

type StatusUpdate = z.infer<typeof statusUpdate>;
type InboundMessage = z.infer<typeof inboundMessage>;
type Contact = { wa_id?: string; profile?: { name?: string } };

/** "sent" says nothing the action row does not; the others become events. */
const STATUS_EVENTS: Record<string, string> = {
  delivered: "whatsapp_delivered",
  read: "whatsapp_read",
  failed: "whatsapp_failed",
};

/**
 * Inbound texts are stored up to WhatsApp's own limit for a text body, 4,096 characters
 * (https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages#text-object), and
 * at most 8 KiB once JSON-encoded, so the event fits ingestion's 16 KiB payload limit with room
 * for the rest. A longer text is cut there; the event says so and gives the full length.
 */
export const MAX_INBOUND_TEXT_CHARS = 4_096;
const MAX_INBOUND_TEXT_JSON_BYTES = 8_192;

/** The opt-out keywords carriers and WhatsApp users expect to work, alone in a reply. */
const OPT_OUT_REPLY = /^\s*(stop|stopall|unsubscribe|cancel|end|quit|opt[ -]?out)\s*[.!]*\s*$/i;

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

/** A text as stored: whole when short enough, else cut on a character boundary, with its length. */
export function storedText(text: string): { text: string; textLength?: number; truncated?: true } {
  const chars = Array.from(text);
  const fits = (n: number) =>
    n <= MAX_INBOUND_TEXT_CHARS &&
    Buffer.byteLength(JSON.stringify(chars.slice(0, n).join(""))) <= MAX_INBOUND_TEXT_JSON_BYTES;
  if (fits(chars.length)) return { text };
  let low = 0;
  let high = Math.min(chars.length, MAX_INBOUND_TEXT_CHARS);
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (fits(mid)) low = mid;
    else high = mid - 1;
  }
  return { text: chars.slice(0, low).join(""), textLength: chars.length, truncated: true };
}

const settled = (outcome: Settlement["outcome"], reason: string | null, creatorIds: string[] = []): Settlement => ({
  outcome,
  reason,
  creatorIds,
});

/** Records one status update on the action it names. */
async function processStatus(update: StatusUpdate, phoneNumberId: string | null): Promise<Settlement> {
  const action = await findByProviderMessageId("WHATSAPP", update.id);
  if (!action) return settled("IGNORED", "no message of ours has this id");
  if ((action.sentFrom ?? config().WHATSAPP_PHONE_NUMBER_ID) !== phoneNumberId) {
    return settled("IGNORED", `the message was sent from another number than ${phoneNumberId ?? "(none)"}`);
  }
  if (update.recipient_id) await rememberWaId(action.consumerId, update.recipient_id);
  const type = STATUS_EVENTS[update.status];
  if (!type) return settled("IGNORED", `status "${update.status}" is not tracked`);
  if (update.status === "failed") await failAccepted(action, update);
  await recordDeliveryEvent({
    creatorId: action.creatorId,
    consumerId: action.consumerId,
    type,
    payload: { actionId: action.id, providerMessageId: update.id, ...(update.errors ? { errors: update.errors } : {}) },
    occurredAt: timestampOf(update.timestamp),
    idempotencyKey: `whatsapp:${update.id}:${update.status}`,
  });
  return settled("RECORDED", null, [action.creatorId]);
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
 * Records one inbound message on the consumer its routing names ("STOP" and its kin as an
 * opt-out from WhatsApp, honoured at once). On the shared number an opt-out is recorded for every
 * creator using it that has this number as a consumer, routed or not.
 */
async function processMessage(
  message: InboundMessage,
  contact: Contact | null,
  phoneNumberId: string | null,
): Promise<Settlement> {
  const receiving = await receivingNumber(phoneNumberId);
  const { route, sameNumber } = await routeInbound(
    receiving,
    phoneNumberId,
    message.from,
    message.context?.id ?? null,
    new Date(),
  );
  const raw =
    message.text?.body ??
    message.button?.text ??
    message.interactive?.button_reply?.title ??
    message.interactive?.list_reply?.title ??
    null;
  const optOut = raw !== null && OPT_OUT_REPLY.test(raw);
  const event = {
    type: optOut ? "unsubscribed" : "whatsapp_replied",
    payload: {
      channel: "WHATSAPP",
      ...(raw === null ? { text: null } : storedText(raw)),
      messageType: message.type,
      providerMessageId: message.id,
      inReplyTo: message.context?.id ?? null,
    },
    // A provider's clock may run a little ahead of ours; ingestion refuses the future.
    occurredAt: new Date(Math.min(timestampOf(message.timestamp).getTime(), Date.now())),
    idempotencyKey: `whatsapp:${message.id}`,
  };

  const recipients: Recipient[] = [];
  if (route.kind === "consumer") recipients.push(route);
  if (optOut)
    recipients.push(...sameNumber.filter((r) => r.creatorId !== (route.kind === "consumer" ? route.creatorId : null)));
  for (const recipient of recipients) {
    await rememberWaId(recipient.consumerId, message.from);
    await recordDeliveryEvent({ ...recipient, ...event });
  }
  if (route.kind === "new consumer") {
    const name = contact?.profile?.name?.trim().slice(0, 200) || null;
    const [stored] = await ingestEvents(route.creatorId, [{ ...event, consumer: { phone: route.phone, name } }], null);
    await rememberWaId(stored.event.consumerId, message.from);
    recipients.push({ creatorId: route.creatorId, consumerId: stored.event.consumerId });
  }
  if (recipients.length > 0) {
    const reason =
      route.kind === "unrouted" ? `opt-out applied to every creator on the shared number; ${route.reason}` : null;
    return settled("RECORDED", reason, [...new Set(recipients.map((r) => r.creatorId))]);
  }
  return settled("UNROUTED", route.kind === "unrouted" ? route.reason : "no recipient");
}

/** Processes one recorded item; an error other than an outage settles it as FAILED. */
async function processItem(item: PendingCallbackItem): Promise<Settlement> {
  const body = item.body as { item?: unknown; contact?: Contact | null };
  if (item.kind === "status") {
    const update = statusUpdate.safeParse(body.item);
    if (!update.success) return settled("FAILED", `not a WhatsApp status: ${z.prettifyError(update.error)}`);
    return processStatus(update.data, item.phoneNumberId);
  }
  const message = inboundMessage.safeParse(body.item);
  if (!message.success) return settled("FAILED", `not a WhatsApp message: ${z.prettifyError(message.error)}`);
  return processMessage(message.data, body.contact ?? null, item.phoneNumberId);
}

/**
 * Processes recorded items in order and settles each. An outage stops the round (PostgreSQL or
 * Redis is away: the rest stay pending for the sweeper); any other error fails only its item,
 * kept for admins with its reason. Returns the outcomes' counts.
 */
export async function processCallbackItems(items: PendingCallbackItem[]): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const item of items) {
    let settlement: Settlement;
    try {
      settlement = await processItem(item);
    } catch (error) {
      if (isOutage(error)) throw error;
      logger.error({ err: error, itemKey: item.itemKey }, "WhatsApp callback item failed");
      settlement = settled("FAILED", (error as Error).message.slice(0, 1000));
    }
    await settleCallbackItem(item.id, settlement);
    counts[settlement.outcome] = (counts[settlement.outcome] ?? 0) + 1;
  }
  return counts;
}

/** A notification's items, keyed so that Meta's redelivery of one is recognised. */
function itemsOf(parsed: z.infer<typeof notification>): NewCallbackItem[] {
  const items = new Map<string, NewCallbackItem>();
  const keyOf = (kind: string, item: unknown, ...ids: unknown[]) =>
    ids.every((id) => typeof id === "string" && id.length > 0)
      ? `${kind}:${ids.join(":")}`
      : `invalid:${createHash("sha256")
          .update(JSON.stringify(item) ?? "")
          .digest("hex")}`;
  for (const { value } of parsed.entry.flatMap((e) => e.changes)) {
    const phoneNumberId = value.metadata?.phone_number_id ?? null;
    const contacts = (value.contacts ?? []) as Contact[];
    for (const item of value.statuses ?? []) {
      const s = (item ?? {}) as { id?: unknown; status?: unknown };
      const itemKey = keyOf("status", item, s.id, s.status);
      items.set(itemKey, { itemKey, kind: "status", phoneNumberId, body: { item } });
    }
    for (const item of value.messages ?? []) {
      const m = (item ?? {}) as { id?: unknown; from?: unknown };
      const itemKey = keyOf("message", item, m.id);
      const contact = contacts.find((c) => c && typeof c === "object" && c.wa_id === m.from) ?? null;
      items.set(itemKey, { itemKey, kind: "message", phoneNumberId, body: { item, contact } });
    }
  }
  return [...items.values()];
}

/**
 * Serves WHATSAPP_CALLBACK_PATH: Meta's GET verification handshake, and signed POST notifications.
 * A notification is answered 200 once its items are recorded (Meta then never redelivers it),
 * 503 when they could not be (Meta delivers it again later), 400 when it is not a notification.
 */
export function whatsAppCallbacks(): Plugin {
  return {
    async onRequest({ request, url, endResponse, fetchAPI }) {
      if (url.pathname !== WHATSAPP_CALLBACK_PATH) return;
      const respond = (status: number, body = "", headers: Record<string, string> = {}) =>
        endResponse(new fetchAPI.Response(body, { status, headers }));
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
      let pending: PendingCallbackItem[];
      try {
        pending = await recordCallbackItems(itemsOf(parsed));
      } catch (error) {
        logger.error({ err: error }, "WhatsApp notification not recorded; Meta will deliver it again");
        return respond(503, "", { "retry-after": String(OUTAGE_RETRY_AFTER_SECONDS) });
      }
      try {
        const counts = await processCallbackItems(pending);
        // One log line per notification, whatever it carries: 5,000 items must not write 5,000 lines.
        if (pending.length > 0) logger.info(counts, "WhatsApp notification processed");
      } catch (error) {
        logger.warn(
          { err: error },
          "WhatsApp notification recorded, its processing interrupted: the sweeper resumes it",
        );
      }
      respond(200, "ok");
    },
  };
}

/**
 * The worker's sweep: processes items left pending for `olderThanMs` (their request crashed or
 * met an outage after recording them), then deletes items settled longer ago than the retention.
 * Throws on an outage (the next sweep tries again).
 */
export async function sweepCallbackItems(olderThanMs: number, limit = 500): Promise<number> {
  const pending = await pendingCallbackItems(olderThanMs, limit);
  if (pending.length > 0) {
    const counts = await processCallbackItems(pending);
    logger.info(counts, "sweeper processed pending WhatsApp callback items");
  }
  await pruneCallbackItems(config().WHATSAPP_CALLBACK_RETENTION_DAYS);
  return pending.length;
}
