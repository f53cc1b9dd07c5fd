import { recordAudit } from "../audit/audit-log.js";
import { db } from "../db/client.js";
import { inTransaction } from "../db/transaction.js";
import { ConflictError, NotFoundError } from "../errors.js";
import { SYSTEM_ACTOR, type Viewer } from "../viewer.js";
import { publishActionChanges } from "./action-feed.js";
import { cancelPlannedAction } from "./delivery-store.js";

/** Which creator an action belongs to, for authorization; null when there is no such action. */
export async function creatorOfAction(actionId: string): Promise<string | null> {
  const action = await db.action.findUnique({ where: { id: actionId }, select: { creatorId: true } });
  return action?.creatorId ?? null;
}

/**
 * Cancels a planned action. The status test is part of the update, so a scheduler claiming the
 * action at the same moment either sees it cancelled or wins and the cancel is refused.
 */
export async function cancelAction(id: string, actor: Viewer | null) {
  const action = await inTransaction(async (tx) => {
    const { cancelled, current } = await cancelPlannedAction(tx, id, `cancelled by ${actor?.label ?? SYSTEM_ACTOR}`);
    if (!current) throw new NotFoundError("Action", id);
    if (!cancelled) throw new ConflictError(`Only a planned action can be cancelled: this one is ${current.status}`);
    await recordAudit(tx, actor, {
      operation: "action.cancel",
      creatorId: current.creatorId,
      targetType: "Action",
      targetId: id,
      details: { channel: current.channel },
    });
    return current;
  });
  await publishActionChanges([action]);
  return action;
}
