import { z } from "zod";
import { recordAudit } from "../audit/audit-log.js";
import { config } from "../config.js";
import { creatorExists } from "../creators/creator-store.js";
import { db } from "../db/client.js";
import { inTransaction } from "../db/transaction.js";
import { ConflictError, NotFoundError, ValidationError } from "../errors.js";
import type { Viewer } from "../viewer.js";

// The whatsapp_senders table: a creator's own WhatsApp Business number. Its access token is
// write-only: no query returns it.

/** phone_number_id is a numeric id in the Cloud API; the token a long opaque string. */
const senderInput = z.object({
  phoneNumberId: z
    .string()
    .trim()
    .regex(/^\d{5,30}$/, "must be the number's phone_number_id: digits, as the WhatsApp Manager shows it"),
  // Tokens are URL-safe text; anything else (a line break pasted with it) would end up in an
  // HTTP client's error message, stored with the action where creators can read it.
  accessToken: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9._|-]{20,1000}$/, "must be a Cloud API access token: 20 to 1000 letters, digits, . _ | -"),
});

export type WhatsAppSenderInput = z.input<typeof senderInput>;

/** How a creator sends on WhatsApp: its own number, or the platform's shared one. */
export type WhatsAppSenderView = { phoneNumberId: string; shared: boolean };

/**
 * Gives a creator its own number (replacing the one it had). Raises ValidationError for a
 * malformed id or token, or the platform's own number; ConflictError when another creator has
 * the number (each number's replies must route to one creator); NotFoundError for an unknown
 * creator. Audited, without the token.
 */
export async function setWhatsAppSender(creatorId: string, input: WhatsAppSenderInput, actor: Viewer | null) {
  const parsed = senderInput.safeParse(input);
  if (!parsed.success) throw ValidationError.fromZod(parsed.error);
  const { phoneNumberId, accessToken } = parsed.data;
  if (phoneNumberId === config().WHATSAPP_PHONE_NUMBER_ID) {
    throw new ValidationError("This is the platform's shared number: remove the creator's sender to use it", [
      { path: "phoneNumberId", message: "is the platform's shared number" },
    ]);
  }
  try {
    return await inTransaction(async (tx) => {
      if (!(await creatorExists(tx, creatorId))) throw new NotFoundError("Creator", creatorId);
      const {
        rows: [sender],
      } = await tx.query<{ phoneNumberId: string }>(
        `INSERT INTO whatsapp_senders ("creatorId", "phoneNumberId", "accessToken", "updatedAt")
         VALUES ($1, $2, $3, now())
         ON CONFLICT ("creatorId") DO UPDATE SET "phoneNumberId" = EXCLUDED."phoneNumberId",
           "accessToken" = EXCLUDED."accessToken", "updatedAt" = now()
         RETURNING "phoneNumberId"`,
        [creatorId, phoneNumberId, accessToken],
      );
      await recordAudit(tx, actor, {
        operation: "whatsapp_sender.set",
        creatorId,
        targetType: "Creator",
        targetId: creatorId,
        details: { phoneNumberId },
      });
      return sender;
    });
  } catch (error) {
    if ((error as { code?: string }).code === "23505") {
      throw new ConflictError(`phone_number_id ${phoneNumberId} is already another creator's sender`);
    }
    throw error;
  }
}

/** Back to the platform's shared number; true when the creator had one of its own. Audited. */
export async function removeWhatsAppSender(creatorId: string, actor: Viewer | null): Promise<boolean> {
  return inTransaction(async (tx) => {
    const { rowCount } = await tx.query(`DELETE FROM whatsapp_senders WHERE "creatorId" = $1`, [creatorId]);
    if (rowCount) {
      await recordAudit(tx, actor, {
        operation: "whatsapp_sender.remove",
        creatorId,
        targetType: "Creator",
        targetId: creatorId,
      });
    }
    return !!rowCount;
  });
}

/** The number a creator sends from (never the token). */
export async function whatsAppSenderOf(creatorId: string): Promise<WhatsAppSenderView> {
  const own = await db.whatsAppSender.findUnique({ where: { creatorId }, select: { phoneNumberId: true } });
  return own ? { phoneNumberId: own.phoneNumberId, shared: false } : sharedSender();
}

export const sharedSender = (): WhatsAppSenderView => ({
  phoneNumberId: config().WHATSAPP_PHONE_NUMBER_ID,
  shared: true,
});

/** Who receives on a phone_number_id: a creator's own number, the shared one, or none of ours. */
export type ReceivingNumber = { kind: "own"; creatorId: string } | { kind: "shared" } | { kind: "unknown" };

export async function receivingNumber(phoneNumberId: string | null): Promise<ReceivingNumber> {
  if (!phoneNumberId) return { kind: "unknown" };
  if (phoneNumberId === config().WHATSAPP_PHONE_NUMBER_ID) return { kind: "shared" };
  const own = await db.whatsAppSender.findUnique({ where: { phoneNumberId }, select: { creatorId: true } });
  return own ? { kind: "own", creatorId: own.creatorId } : { kind: "unknown" };
}
