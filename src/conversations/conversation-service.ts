import { recordAudit } from "../audit/audit-log.js";
import { db } from "../db/client.js";
import { inTransaction } from "../db/transaction.js";
import { publishActionChanges } from "../delivery/action-feed.js";
import { cancelPlannedMessages } from "../delivery/delivery-store.js";
import { NotFoundError } from "../errors.js";
import type { ConversationHolder } from "../generated/prisma/enums.js";
import type { Viewer } from "../viewer.js";
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
  return conversation;
}
