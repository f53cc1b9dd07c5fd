import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Plugin } from "graphql-yoga";
import { z } from "zod";
import { config } from "../config.js";
import { rememberWaId } from "../consumers/consumer-store.js";
import { storableJson, storableString } from "../db/storable-text.js";
import { publishActionChanges } from "../delivery/action-feed.js";
import { fallbackFor, parsePayload } from "../delivery/action-payload.js";
import { recordDeliveryEvent } from "../delivery/delivery-events.js";
import { failAfterAcceptance, findByProviderMessageId, type SentAction } from "../delivery/delivery-store.js";
import { ingestEvents } from "../events/ingest.js";
import { logger } from "../logger.js";
import { isOutage, OUTAGE_RETRY_AFTER_SECONDS } from "../outages.js";
import {
  claimAbandonedCallbackItems,
  type NewCallbackItem,
  type PendingCallbackItem,
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

/**
 * The envelope, read leniently: an entry or change of an unexpected shape becomes a FAILED item of
 * its own, so it never keeps the others from being recorded.
 */
const notification = z.object({ entry: z.array(z.unknown()) });

const change = z.object({
  value: z.object({
    metadata: z
      .object({ phone_number_id: z.union([z.string(), z.number()]).transform(String) })
      .loose()
      .optional(),
    contacts: z.array(z.unknown()).nullish(),
    statuses: z.array(z.unknown()).nullish(),
    messages: z.array(z.unknown()).nullish(),
  }),
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

/**
 * Replies that are an opt-out on their own: the keywords carriers and WhatsApp users expect to work
 * (CTIA's STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT; "Stop promotions", the title of WhatsApp's
 * marketing opt-out button), and their Portuguese and Spanish kin for the markets WhatsApp is
 * largest in. Anything longer is a conversation, for the agent to understand.
 */
const OPT_OUT_REPLIES = new Set([
  "stop",
  "stopall",
  "stop all",
  "unsubscribe",
  "cancel",
  "end",
  "quit",
  "opt out",
  "optout",
  "stop please",
  "please stop",
  "stop promotions",
  "parar",
  "pare",
  "sair",
  "cancelar",
  "baja",
  "darme de baja",
]);

/**
 * Whether a reply is an opt-out: compared after Unicode compatibility folding (fullwidth letters),
 * without accents, invisible characters, emoji or punctuation, in lower case.
 */
export function isOptOutReply(text: string): boolean {
  const folded = text
    .normalize("NFKD")
    .replace(/\p{M}/gu, "")
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, " ")
    .trim();
  return OPT_OUT_REPLIES.has(folded);
}

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
export function storedText(raw: string): { text: string; textLength?: number; truncated?: true } {
  const text = storableString(raw);
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
  const { route, sameAccount } = await routeInbound(
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
  const optOut = raw !== null && isOptOutReply(raw);
  const sentAt = timestampOf(message.timestamp);
  const event = {
    type: optOut ? "unsubscribed" : "whatsapp_replied",
    payload: {
      channel: "WHATSAPP",
      ...(raw === null ? { text: null } : storedText(raw)),
      messageType: message.type,
      providerMessageId: message.id,
      inReplyTo: message.context?.id ?? null,
      sentAt: sentAt.toISOString(),
    },
    // An opt-out takes effect when it reaches us: a grant recorded before (an import while the
    // item waited for a retry or the sweep) does not undo it. A reply keeps WhatsApp's time, but
    // a provider's clock may run a little ahead of ours, and ingestion refuses the future.
    occurredAt: optOut ? new Date() : new Date(Math.min(sentAt.getTime(), Date.now())),
    idempotencyKey: `whatsapp:${message.id}`,
  };

  const recipients: Recipient[] = [];
  if (route.kind === "consumer") recipients.push(route);
  if (optOut) {
    const routed = route.kind === "consumer" ? route.consumerId : null;
    recipients.push(...sameAccount.filter((r) => r.consumerId !== routed));
  }
  const keyed = new Set<string>();
  for (const recipient of recipients) {
    await rememberWaId(recipient.consumerId, message.from);
    // The key is WhatsApp's id, once per creator: a creator's second consumer on one account gets its own.
    const idempotencyKey = keyed.has(recipient.creatorId)
      ? `${event.idempotencyKey}:${recipient.consumerId}`
      : event.idempotencyKey;
    keyed.add(recipient.creatorId);
    await recordDeliveryEvent({ ...recipient, ...event, idempotencyKey });
  }
  if (route.kind === "new consumer") {
    const name =
      Array.from(storableString(contact?.profile?.name?.trim() ?? ""))
        .slice(0, 200)
        .join("") || null;
    const [stored] = await ingestEvents(route.creatorId, [{ ...event, consumer: { phone: route.phone, name } }], null);
    await rememberWaId(stored.event.consumerId, message.from);
    recipients.push({ creatorId: route.creatorId, consumerId: stored.event.consumerId });
  }
  if (recipients.length > 0) {
    const reason =
      route.kind === "unrouted"
        ? `opt-out applied to every consumer of this account on this number; ${route.reason}`
        : null;
    return settled("RECORDED", reason, [...new Set(recipients.map((r) => r.creatorId))]);
  }
  return settled("UNROUTED", route.kind === "unrouted" ? route.reason : "no recipient");
}

/** Processes one recorded item; an error other than an outage settles it as FAILED. */
async function processItem(item: PendingCallbackItem): Promise<Settlement> {
  const body = item.body as { item?: unknown; contact?: Contact | null; unreadable?: string };
  if (item.kind === "invalid") return settled("FAILED", body.unreadable ?? "not a WhatsApp status or message");
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
 * Processes claimed items in order and settles each, until `deadline` (ms since the epoch) if one
 * is given; returns those left unprocessed. An outage stops the round (PostgreSQL or Redis is
 * away: the rest stay pending until their claim runs out, then the sweep takes them); any other
 * error fails only its item, kept for admins with its reason.
 */
export async function processCallbackItems(
  items: PendingCallbackItem[],
  deadline = Number.POSITIVE_INFINITY,
): Promise<{ counts: Record<string, number>; rest: PendingCallbackItem[] }> {
  const counts: Record<string, number> = {};
  for (const [i, item] of items.entries()) {
    if (Date.now() > deadline) return { counts, rest: items.slice(i) };
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
  return { counts, rest: [] };
}

/** An item as recorded: its JSON made storable, or, when it cannot be serialised, why (it then fails alone). */
function recordable(
  itemKey: string,
  kind: NewCallbackItem["kind"],
  phoneNumberId: string | null,
  body: object,
): NewCallbackItem {
  try {
    return { itemKey, kind, phoneNumberId, body: storableJson(body) };
  } catch (error) {
    const unreadable = `the item could not be recorded as JSON: ${(error as Error).message}`;
    return { itemKey, kind: "invalid", phoneNumberId, body: JSON.stringify({ unreadable }) };
  }
}

/** A stable key for an item without usable ids: a hash of what it holds (or of its place, if even that fails). */
function invalidKey(value: unknown, place: string): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? "undefined";
  } catch {
    text = place;
  }
  return `invalid:${createHash("sha256").update(text).digest("hex")}`;
}

/** A notification's items, keyed so that Meta's redelivery of one is recognised. */
function itemsOf(entries: unknown[]): NewCallbackItem[] {
  const items = new Map<string, NewCallbackItem>();
  const add = (item: NewCallbackItem) => items.set(item.itemKey, item);
  const usable = (id: unknown): id is string => typeof id === "string" && id.length > 0 && id.length <= 500;
  entries.forEach((entry, e) => {
    const changes = (entry as { changes?: unknown } | null)?.changes;
    if (!Array.isArray(changes)) {
      const unreadable = "an entry without a changes array";
      add(recordable(invalidKey(entry, `entry:${e}`), "invalid", null, { unreadable, entry }));
      return;
    }
    changes.forEach((raw, c) => {
      const parsed = change.safeParse(raw);
      if (!parsed.success) {
        const unreadable = `not a WhatsApp change: ${z.prettifyError(parsed.error)}`;
        add(recordable(invalidKey(raw, `change:${e}:${c}`), "invalid", null, { unreadable, change: raw }));
        return;
      }
      const { value } = parsed.data;
      const phoneNumberId = value.metadata?.phone_number_id ?? null;
      const contacts = (value.contacts ?? []) as Contact[];
      for (const item of value.statuses ?? []) {
        const { id, status } = (item ?? {}) as { id?: unknown; status?: unknown };
        const itemKey = usable(id) && usable(status) ? `status:${id}:${status}` : invalidKey(item, "status");
        add(recordable(itemKey, "status", phoneNumberId, { item }));
      }
      for (const item of value.messages ?? []) {
        const { id, from } = (item ?? {}) as { id?: unknown; from?: unknown };
        const itemKey = usable(id) ? `message:${id}` : invalidKey(item, "message");
        const contact = contacts.find((c) => c && typeof c === "object" && c.wa_id === from) ?? null;
        add(recordable(itemKey, "message", phoneNumberId, { item, contact }));
      }
    });
  });
  return [...items.values()];
}

/** Items not processed within this long of a notification's arrival are processed after it is answered. */
const ANSWER_WITHIN_MS = 2_000;

/**
 * Serves WHATSAPP_CALLBACK_PATH: Meta's GET verification handshake, and signed POST notifications.
 * A notification is answered 200 once its items are recorded (Meta then never redelivers it):
 * they are processed first, for up to ANSWER_WITHIN_MS, and the rest after the answer; 503 when
 * they could not be recorded (Meta delivers it again later), 400 when it is not a notification.
 */
export function whatsAppCallbacks(): Plugin {
  return {
    async onRequest({ request, url, endResponse, fetchAPI }) {
      if (url.pathname !== WHATSAPP_CALLBACK_PATH) return;
      const arrivedAt = Date.now();
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
      let entries: unknown[];
      try {
        entries = notification.parse(JSON.parse(rawBody.toString("utf8"))).entry;
      } catch {
        return respond(400, "not a WhatsApp notification");
      }
      let claimed: PendingCallbackItem[];
      try {
        claimed = await recordCallbackItems(itemsOf(entries), settings.WHATSAPP_CALLBACK_CLAIM_MS);
      } catch (error) {
        logger.error({ err: error }, "WhatsApp notification not recorded; Meta will deliver it again");
        return respond(503, "", { "retry-after": String(OUTAGE_RETRY_AFTER_SECONDS) });
      }
      const processing = processCallbackItems(claimed, arrivedAt + ANSWER_WITHIN_MS).then(async ({ counts, rest }) => {
        if (rest.length === 0) return counts;
        const after = await processCallbackItems(rest);
        for (const [outcome, n] of Object.entries(after.counts)) counts[outcome] = (counts[outcome] ?? 0) + n;
        return counts;
      });
      // One log line per notification, whatever it carries: 5,000 items must not write 5,000 lines.
      const logged = processing.then(
        (counts) => claimed.length > 0 && logger.info(counts, "WhatsApp notification processed"),
        (error) =>
          logger.warn(
            { err: error },
            "WhatsApp notification recorded, its processing interrupted: the sweep resumes it",
          ),
      );
      await Promise.race([logged, sleep(Math.max(0, arrivedAt + ANSWER_WITHIN_MS - Date.now()))]);
      respond(200, "ok");
    },
  };
}

/**
 * The worker's sweep: processes items whose claim ran out while pending (their request crashed or
 * met an outage after recording them), then deletes settled items older than the retention.
 * Returns how many it processed; throws on an outage (the next sweep tries again).
 */
export async function sweepCallbackItems(limit = 500): Promise<number> {
  const settings = config();
  const claimed = await claimAbandonedCallbackItems(limit, settings.WHATSAPP_CALLBACK_CLAIM_MS);
  if (claimed.length > 0) {
    const { counts } = await processCallbackItems(claimed);
    logger.info(counts, "sweep processed pending WhatsApp callback items");
  }
  await pruneCallbackItems(settings.WHATSAPP_CALLBACK_RETENTION_DAYS);
  return claimed.length;
}
