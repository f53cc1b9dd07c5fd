import { recordAudit } from "../audit/audit-log.js";
import { inTransaction } from "../db/transaction.js";
import { ConflictError, NotFoundError } from "../errors.js";
import type { Viewer } from "../viewer.js";
import { enqueueAgentRuns } from "./dispatch.js";
import { findEventForUpdate, reopenEvent } from "./event-store.js";

/** The dead-letter view's retry of an event: its agents run on it again. Raises NotFoundError, ConflictError. */
export async function retryEvent(eventId: string, actor: Viewer | null) {
  const event = await inTransaction(async (tx) => {
    const found = await findEventForUpdate(tx, eventId);
    if (!found) throw new NotFoundError("Event", eventId);
    if (!found.failedAt) throw new ConflictError("Only events that failed can be retried (this one did not)");
    await reopenEvent(tx, eventId);
    await recordAudit(tx, actor, {
      operation: "event.retry",
      creatorId: found.creatorId,
      targetType: "Event",
      targetId: eventId,
    });
    return { ...found, processedAt: null, failedAt: null, failureReason: null };
  });
  await enqueueAgentRuns([event]);
  return event;
}
