import { recordAudit } from "../audit/audit-log.js";
import { db } from "../db/client.js";
import { isStorableText } from "../db/storable-text.js";
import { inTransaction } from "../db/transaction.js";
import { publishActionChanges } from "../delivery/action-feed.js";
import { cancelPlannedMessages, planPersonMessage } from "../delivery/delivery-store.js";
import { NotFoundError, ValidationError } from "../errors.js";
import type { ConversationHolder } from "../generated/prisma/enums.js";
import { SYSTEM_ACTOR, type Viewer } from "../viewer.js";
import { customerServiceWindowOpen } from "../whatsapp/template-rules.js";
import { publishConversationChanges } from "./conversation-feed.js";
import { findConversationForUpdate, setHolder } from "./conversation-store.js";

/** Which creator a conversation belongs to, for authorization; null when there is no such conversation. */
export async function creatorOfConversation(id: string): Promise<string | null> {
  const found = await db.conversation.findUnique({ where: { id }, select: { creatorId: true } });
  return found?.creatorId ?? null;
}

const OPERATIONS: Record<ConversationHolder, string> = {
  PERSON: "conversation.hand_off",
  AGENT: "conversation.return_to_agent",
  CLOSED: "conversation.close",
};

/**
 * Gives a conversation to a person (hand-off), back to the agent, or closes it; audited. Handing
 * off or closing cancels the agent's planned messages on that channel, so nothing it planned is
 * sent over the person's answer. Raises NotFoundError.
 */
export async function changeHolder(
  id: string,
  holder: ConversationHolder,
  reason: string | null,
  actor: Viewer | null,
) {
  const { conversation, cancelled } = await inTransaction(async (tx) => {
    const found = await findConversationForUpdate(tx, id);
    if (!found) throw new NotFoundError("Conversation", id);
    const updated = await setHolder(tx, id, holder, holder === "AGENT" ? null : reason);
    const cancelled =
      holder === "AGENT"
        ? []
        : await cancelPlannedMessages(tx, [
            {
              consumerId: found.consumerId,
              channel: found.channel,
              reason: holder === "PERSON" ? "conversation handed off to a person" : "conversation closed",
              agentsOnly: true,
            },
          ]);
    await recordAudit(tx, actor, {
      operation: OPERATIONS[holder],
      creatorId: found.creatorId,
      targetType: "Conversation",
      targetId: id,
      details: { from: found.holder, to: holder, reason, cancelledActions: cancelled.map((a) => a.id) },
    });
    return { conversation: updated, cancelled };
  });
  await publishActionChanges(cancelled.map((a) => ({ ...a, status: "CANCELLED" as const })));
  await publishConversationChanges([conversation]);
  return conversation;
}

export { CUSTOMER_SERVICE_WINDOW_MS } from "../whatsapp/template-rules.js";

/** What a person may write in one message: WhatsApp's limit for a text body (4,096 characters). */
const MAX_MESSAGE_CHARS = 4_096;

/**
 * A person's message in a conversation: planned now, ahead of the agent's, and sent through the
 * same consent, quiet-hours and frequency rules as any action (its cap counts people's messages
 * alone). Writing takes the conversation from the agent (it becomes the person's, the agent's planned messages there are cancelled).
 * Audited. Raises NotFoundError, ValidationError (empty or too long, or no address on the channel).
 */
export async function sendMessage(conversationId: string, text: string, subject: string | null, actor: Viewer | null) {
  const message = text.trim();
  if (message.length === 0 || Array.from(message).length > MAX_MESSAGE_CHARS || !isStorableText(message)) {
    throw new ValidationError(`Invalid input: text: 1 to ${MAX_MESSAGE_CHARS} characters of text`, [
      { path: "text", message: `1 to ${MAX_MESSAGE_CHARS} characters of text` },
    ]);
  }
  const { action, cancelled, conversation } = await inTransaction(async (tx) => {
    const found = await findConversationForUpdate(tx, conversationId);
    if (!found) throw new NotFoundError("Conversation", conversationId);
    const { rows } = await tx.query<{ email: string | null; phone: string | null; creatorName: string }>(
      `SELECT co.email, co.phone, cr.name AS "creatorName" FROM consumers co JOIN creators cr ON cr.id = co."creatorId"
        WHERE co.id = $1`,
      [found.consumerId],
    );
    const channel = found.channel;
    if (subject !== null && channel !== "EMAIL") {
      throw new ValidationError("Invalid input: subject: a subject is for email conversations only", [
        { path: "subject", message: "for email conversations only" },
      ]);
    }
    const to = channel === "WHATSAPP" ? rows[0]?.phone : channel === "EMAIL" ? rows[0]?.email : null;
    if (!to || (channel !== "WHATSAPP" && channel !== "EMAIL")) {
      throw new ValidationError(`The consumer has no ${channel} address to write to`, [
        { path: "conversationId", message: `no ${channel} address` },
      ]);
    }
    // Outside the customer-service window WhatsApp delivers template messages only: free text
    // would be refused after it left here (https://developers.facebook.com/docs/whatsapp/pricing#customer-service-windows).
    if (channel === "WHATSAPP" && !customerServiceWindowOpen(found.lastInboundAt, new Date())) {
      throw new ValidationError(
        "The WhatsApp customer-service window is closed (no message from the consumer in the last 24 hours): WhatsApp accepts only template messages now",
        [{ path: "conversationId", message: "customer-service window closed" }],
      );
    }
    let cancelled: Awaited<ReturnType<typeof cancelPlannedMessages>> = [];
    const from = found.holder;
    if (found.holder !== "PERSON") {
      await setHolder(tx, found.id, "PERSON", "a person wrote");
      cancelled = await cancelPlannedMessages(tx, [
        { consumerId: found.consumerId, channel, reason: "conversation handed off to a person", agentsOnly: true },
      ]);
    }
    let action: Awaited<ReturnType<typeof planPersonMessage>>;
    try {
      action = await planPersonMessage(tx, {
        creatorId: found.creatorId,
        consumerId: found.consumerId,
        channel,
        payload: {
          to,
          message,
          template: "person",
          ...(channel === "EMAIL" ? { subject: subject?.trim() || `A message from ${rows[0].creatorName}` } : {}),
        },
        sentBy: actor?.label ?? SYSTEM_ACTOR,
      });
    } catch (error) {
      throw new ValidationError(`Invalid input: ${(error as Error).message}`);
    }
    await recordAudit(tx, actor, {
      operation: "conversation.send_message",
      creatorId: found.creatorId,
      targetType: "Conversation",
      targetId: found.id,
      details: {
        actionId: action.id,
        channel,
        length: Array.from(message).length,
        from,
        to: "PERSON",
        cancelledActions: cancelled.map((a) => a.id),
      },
    });
    return { action, cancelled, conversation: { id: found.id, creatorId: found.creatorId, holder: "PERSON" as const } };
  });
  await publishActionChanges([
    ...cancelled.map((a) => ({ ...a, status: "CANCELLED" as const })),
    { id: action.id, creatorId: action.creatorId, status: action.status },
  ]);
  await publishConversationChanges([conversation]);
  return action;
}
