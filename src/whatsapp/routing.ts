import { findByProviderMessageId } from "../actions/delivery-store.js";
import { config } from "../config.js";
import { pool } from "../db/client.js";
import type { ReceivingNumber } from "./sender-store.js";
import { e164OfWaId, numbersOfWaId } from "./wa-id.js";

// Which creator an inbound WhatsApp message belongs to. A number can be a consumer of several
// creators; on the platform's shared number nothing in the message says which creator it is for,
// so it is routed only on evidence, never guessed.

/**
 * WhatsApp's customer-service window: a business may answer freely for 24 hours after the
 * consumer's last message (https://developers.facebook.com/docs/whatsapp/pricing#customer-service-windows).
 * A message without reply context on the shared number goes to the creator that wrote to the
 * number last within this long; older conversations are not taken as what it answers.
 */
export const CUSTOMER_SERVICE_WINDOW_MS = 24 * 3_600_000;

export type Recipient = { creatorId: string; consumerId: string };

export type Route =
  | (Recipient & { kind: "consumer"; via: "reply context" | "known number" | "latest outbound" })
  | { kind: "new consumer"; creatorId: string; phone: string }
  | { kind: "unrouted"; reason: string };

/**
 * Where an inbound message goes, and, on the shared number, the consumer of every creator using
 * it that this number is (an opt-out applies to each of them).
 */
export type InboundRouting = { route: Route; sameNumber: Recipient[] };

type Match = Recipient & { phone: string | null; waId: string | null; lastSentAt: Date | null };

/** The sender an action went out from: before senders were recorded, every send used the shared number. */
const senderOf = (sentFrom: string | null) => sentFrom ?? config().WHATSAPP_PHONE_NUMBER_ID;

/**
 * Consumers that this wa_id is, on the receiving number: of its creator (own number) or of every
 * creator without a number of its own (shared number). With each, the last time the receiving
 * number sent it a WhatsApp message.
 */
async function consumersOnNumber(receiving: ReceivingNumber, phoneNumberId: string, waId: string, numbers: string[]) {
  const { rows } = await pool.query<Match>(
    `SELECT co.id AS "consumerId", co."creatorId", co.phone, co."waId",
            (SELECT max(a."sentAt") FROM actions a
              WHERE a."consumerId" = co.id AND a.channel = 'WHATSAPP' AND a."sentAt" IS NOT NULL
                AND COALESCE(a."sentFrom", $5) = $3) AS "lastSentAt"
       FROM consumers co
      WHERE (co."waId" = $1 OR co.phone = ANY($2))
        AND CASE WHEN $4::uuid IS NULL
                 THEN NOT EXISTS (SELECT 1 FROM whatsapp_senders ws WHERE ws."creatorId" = co."creatorId")
                 ELSE co."creatorId" = $4::uuid END`,
    [
      waId,
      numbers,
      phoneNumberId,
      receiving.kind === "own" ? receiving.creatorId : null,
      config().WHATSAPP_PHONE_NUMBER_ID,
    ],
  );
  return rows;
}

/**
 * Of one creator's consumers matching the wa_id, the one it names: the consumer WhatsApp already
 * knows by this wa_id, else the one with the wa_id's own number, else the only one with a number
 * one renumbering away; several such are ambiguous (null).
 */
function bestOf(matches: Match[], waId: string, ownNumber: string): Match | null {
  const known = matches.find((m) => m.waId === waId) ?? matches.find((m) => m.phone === ownNumber);
  if (known) return known;
  return matches.length === 1 ? matches[0] : null;
}

/**
 * Routes an inbound message received on `phoneNumberId` from `waId`:
 * 1. a number that is neither the platform's nor a creator's: unrouted;
 * 2. a reply quoting one of our messages sent from this number: that message's consumer;
 * 3. a creator's own number: its consumer with this wa_id or number, else a new consumer of it;
 * 4. the shared number: the consumer of the creator that last wrote to the number from it, within
 *    the customer-service window; else unrouted (kept for an admin).
 */
export async function routeInbound(
  receiving: ReceivingNumber,
  phoneNumberId: string | null,
  waId: string,
  contextId: string | null,
  now: Date,
): Promise<InboundRouting> {
  if (receiving.kind === "unknown" || !phoneNumberId) {
    const reason = `received on phone_number_id ${phoneNumberId ?? "(none)"}, which is neither the platform's number nor a creator's`;
    return { route: { kind: "unrouted", reason }, sameNumber: [] };
  }
  const numbers = numbersOfWaId(waId);
  const matches = await consumersOnNumber(receiving, phoneNumberId, waId, numbers);
  const byCreator = new Map<string, Match[]>();
  for (const m of matches) byCreator.set(m.creatorId, [...(byCreator.get(m.creatorId) ?? []), m]);
  const best = [...byCreator.values()].map((ms) => bestOf(ms, waId, numbers[0])).filter((m): m is Match => m !== null);
  const sameNumber =
    receiving.kind === "shared" ? best.map(({ creatorId, consumerId }) => ({ creatorId, consumerId })) : [];

  if (contextId) {
    const answered = await findByProviderMessageId("WHATSAPP", contextId);
    if (answered && senderOf(answered.sentFrom) === phoneNumberId) {
      const { creatorId, consumerId } = answered;
      return { route: { kind: "consumer", creatorId, consumerId, via: "reply context" }, sameNumber };
    }
  }

  if (receiving.kind === "own") {
    const [own] = best;
    if (own) return { route: { ...pick(own), kind: "consumer", via: "known number" }, sameNumber };
    if (matches.length > 0) {
      const reason = `wa_id ${waId} matches ${matches.length} consumers of the creator by renumbering: ambiguous`;
      return { route: { kind: "unrouted", reason }, sameNumber };
    }
    const phone = e164OfWaId(waId);
    if (!phone) return { route: { kind: "unrouted", reason: `wa_id ${waId} is not a phone number` }, sameNumber };
    return { route: { kind: "new consumer", creatorId: receiving.creatorId, phone }, sameNumber };
  }

  const since = now.getTime() - CUSTOMER_SERVICE_WINDOW_MS;
  const latest = best
    .filter((m) => m.lastSentAt && m.lastSentAt.getTime() > since)
    .sort((a, b) => (b.lastSentAt?.getTime() ?? 0) - (a.lastSentAt?.getTime() ?? 0))[0];
  if (latest) return { route: { ...pick(latest), kind: "consumer", via: "latest outbound" }, sameNumber };
  const reason =
    best.length === 0
      ? `no consumer of a creator on the shared number has wa_id ${waId}`
      : `${best.length} creator(s) know wa_id ${waId}, none wrote to it from the shared number in the last 24 hours`;
  return { route: { kind: "unrouted", reason }, sameNumber };
}

const pick = ({ creatorId, consumerId }: Recipient): Recipient => ({ creatorId, consumerId });
