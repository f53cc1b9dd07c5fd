import { config } from "../config.js";
import { pool } from "../db/client.js";
import { findByProviderMessageId } from "../delivery/delivery-store.js";
import type { ReceivingNumber } from "./sender-store.js";
import { numbersOfWaId, phoneOfWaId } from "./wa-id.js";

// Which creator an inbound WhatsApp message belongs to. A number can be a consumer of several
// creators; on the platform's shared number nothing in the message says which creator it is for,
// so it is routed only on evidence, never guessed.

/**
 * WhatsApp's customer-service window: a business may answer freely for 24 hours after the
 * consumer's last message (https://developers.facebook.com/docs/whatsapp/pricing#customer-service-windows).
 * A message without reply context goes to the creator that wrote to the number last, from the
 * number it was received on, within this long; older conversations are not taken as what it answers.
 */
export const CUSTOMER_SERVICE_WINDOW_MS = 24 * 3_600_000;

export type Recipient = { creatorId: string; consumerId: string };

export type Route =
  | (Recipient & { kind: "consumer"; via: "reply context" | "latest outbound" | "known number" })
  | { kind: "new consumer"; creatorId: string; phone: string }
  | { kind: "unrouted"; reason: string };

/**
 * Where an inbound message goes, and every consumer this wa_id is among those the receiving number
 * serves (an opt-out applies to each of them).
 */
export type InboundRouting = { route: Route; sameAccount: Recipient[] };

type Match = Recipient & { phone: string | null; waId: string | null; lastSentAt: Date | null };

/** The sender an action went out from: before senders were recorded, every send used the shared number. */
const senderOf = (sentFrom: string | null) => sentFrom ?? config().WHATSAPP_PHONE_NUMBER_ID;

/**
 * Consumers this wa_id may be, among those the receiving number serves: its owner's (a creator's
 * own number), those of every creator without a number of its own (the shared number), and any
 * it has sent a WhatsApp message to (a creator that changed numbers since). With each, the last
 * time this number sent it a WhatsApp message.
 */
async function consumersServedBy(
  phoneNumberId: string,
  ownerId: string | null,
  shared: boolean,
  waId: string,
  numbers: string[],
) {
  const { rows } = await pool.query<Match>(
    `WITH candidates AS (
       SELECT co.id, co."creatorId", co.phone, co."waId",
              (SELECT max(a."sentAt") FROM actions a
                WHERE a."consumerId" = co.id AND a.channel = 'WHATSAPP' AND a."sentAt" IS NOT NULL
                  AND COALESCE(a."sentFrom", $5) = $3) AS "lastSentAt"
         FROM consumers co
        WHERE co."waId" = $1 OR co.phone = ANY($2)
     )
     SELECT id AS "consumerId", "creatorId", phone, "waId", "lastSentAt" FROM candidates c
      WHERE c."creatorId" = $4::uuid
         OR ($6 AND NOT EXISTS (SELECT 1 FROM whatsapp_senders ws WHERE ws."creatorId" = c."creatorId"))
         OR c."lastSentAt" IS NOT NULL`,
    [waId, numbers, phoneNumberId, ownerId, config().WHATSAPP_PHONE_NUMBER_ID, shared],
  );
  return rows;
}

/**
 * Of one creator's consumers matching the wa_id, those it names: every consumer WhatsApp knows by
 * this wa_id or stored with its own number (the same account), else the only one stored with a
 * renumbered form; several such are ambiguous (none).
 */
function sameAccountOf(matches: Match[], waId: string, ownNumber: string | null): Match[] {
  const strong = matches.filter((m) => m.waId === waId || (ownNumber !== null && m.phone === ownNumber));
  if (strong.length > 0) return strong.sort((a, b) => Number(b.waId === waId) - Number(a.waId === waId));
  return matches.length === 1 ? matches : [];
}

const recipient = ({ creatorId, consumerId }: Recipient): Recipient => ({ creatorId, consumerId });

/**
 * Routes an inbound message received on `phoneNumberId` from `waId`, in order:
 * 1. a reply quoting one of our messages sent from this number: that message's consumer;
 * 2. the consumer this number last wrote to from this wa_id, within the customer-service window;
 * 3. on a creator's own number: its consumer with this wa_id or number, else a new consumer of it;
 * 4. else (the shared number, a number no longer any creator's, or none of ours): unrouted, kept
 *    for an admin.
 */
export async function routeInbound(
  receiving: ReceivingNumber,
  phoneNumberId: string | null,
  waId: string,
  contextId: string | null,
  now: Date,
): Promise<InboundRouting> {
  if (!phoneNumberId) {
    return { route: { kind: "unrouted", reason: "received without a phone_number_id" }, sameAccount: [] };
  }
  const { own, variants } = numbersOfWaId(waId);
  const ownerId = receiving.kind === "own" ? receiving.creatorId : null;
  const matches = await consumersServedBy(
    phoneNumberId,
    ownerId,
    receiving.kind === "shared",
    waId,
    [own, ...variants].filter((n): n is string => n !== null),
  );
  const byCreator = new Map<string, Match[]>();
  for (const m of matches) byCreator.set(m.creatorId, [...(byCreator.get(m.creatorId) ?? []), m]);
  const perCreator = [...byCreator.values()].map((ms) => sameAccountOf(ms, waId, own));
  const sameAccount = perCreator.flat().map(recipient);

  if (contextId) {
    const answered = await findByProviderMessageId("WHATSAPP", contextId);
    if (answered && senderOf(answered.sentFrom) === phoneNumberId) {
      return { route: { ...recipient(answered), kind: "consumer", via: "reply context" }, sameAccount };
    }
  }

  const since = now.getTime() - CUSTOMER_SERVICE_WINDOW_MS;
  const latest = perCreator
    .map((ms) => ms[0])
    .filter((m) => m?.lastSentAt && m.lastSentAt.getTime() > since)
    .sort((a, b) => (b.lastSentAt?.getTime() ?? 0) - (a.lastSentAt?.getTime() ?? 0))[0];
  if (latest) return { route: { ...recipient(latest), kind: "consumer", via: "latest outbound" }, sameAccount };

  if (ownerId) {
    const [known] = byCreator.has(ownerId) ? sameAccountOf(byCreator.get(ownerId) ?? [], waId, own) : [];
    if (known) return { route: { ...recipient(known), kind: "consumer", via: "known number" }, sameAccount };
    if (byCreator.has(ownerId)) {
      const reason = `wa_id ${waId} may be several consumers of the creator (renumbered forms): ambiguous`;
      return { route: { kind: "unrouted", reason }, sameAccount };
    }
    const phone = phoneOfWaId(waId);
    if (!phone) return { route: { kind: "unrouted", reason: `wa_id ${waId} is not a phone number` }, sameAccount };
    return { route: { kind: "new consumer", creatorId: ownerId, phone }, sameAccount };
  }

  const where = receiving.kind === "shared" ? "the shared number" : "this number";
  const reason =
    receiving.kind === "unknown"
      ? `received on phone_number_id ${phoneNumberId}, which is neither the platform's number nor a creator's, and sent nothing to wa_id ${waId} in the last 24 hours`
      : perCreator.length === 0
        ? `no consumer of a creator on ${where} has wa_id ${waId}`
        : `${perCreator.length} creator(s) know wa_id ${waId}, none wrote to it from ${where} in the last 24 hours`;
  return { route: { kind: "unrouted", reason }, sameAccount };
}
