import { recordAudit } from "../audit/audit-log.js";
import type { Viewer } from "../auth/viewer.js";
import { db, pool, type Tx } from "../db/client.js";
import { ConflictError, NotFoundError } from "../errors.js";
import { enqueueAgentRuns } from "./dispatch.js";

// Where an event stands in processing: processedAt once its agents ran (their failures, if any,
// are on the invocations), failedAt once running them failed for good before any invocation could
// hold the failure. An event with neither is the dispatch sweeper's to enqueue.

export async function markEventProcessed(eventId: string): Promise<void> {
  await pool.query(`UPDATE events SET "processedAt" = now() WHERE id = $1`, [eventId]);
}

/**
 * Dead-letters an event whose run failed for good (not an outage) with no invocation to hold the
 * failure; a no-op for an event already processed, whose failures its invocations record.
 * `reason` is kept to 2,000 characters.
 */
export async function markEventFailed(eventId: string, reason: string): Promise<void> {
  await pool.query(
    `UPDATE events SET "failedAt" = now(), "failureReason" = left($2, 2000) WHERE id = $1 AND "processedAt" IS NULL`,
    [eventId, reason],
  );
}

/**
 * Makes a processed or dead-lettered event the sweeper's again, in the caller's transaction: if
 * the enqueue that follows is lost, the sweeper runs it.
 */
export async function reopenEvent(tx: Tx, eventId: string): Promise<void> {
  await tx.event.update({ where: { id: eventId }, data: { processedAt: null, failedAt: null, failureReason: null } });
}

/** The dead-letter view's retry of an event: its agents run on it again. Raises NotFoundError, ConflictError. */
export async function retryEvent(eventId: string, actor: Viewer | null) {
  const event = await db.$transaction(async (tx) => {
    const found = await tx.event.findUnique({ where: { id: eventId } });
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
